#include "tabsnap.h"
#include <string.h>
int version_matches(void) {
  return TABSNAP_VERSION_NUMBER == tabsnap_version_number() && strcmp(TABSNAP_VERSION, tabsnap_version()) == 0;
}
