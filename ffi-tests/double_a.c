/* Included twice in one unit and once more in another: the guard and declarations hold. */
#include "tabsnap.h"
#include "tabsnap.h"
#include <stdio.h>
int version_matches(void);
int main(void) {
  if (!version_matches()) {
    printf("FAIL double_include: TABSNAP_VERSION_NUMBER %d != tabsnap_version_number() %u\n",
           TABSNAP_VERSION_NUMBER, tabsnap_version_number());
    return 1;
  }
  printf("ok double_include (version %s)\n", tabsnap_version());
  return 0;
}
