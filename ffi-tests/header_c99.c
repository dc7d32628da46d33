/* The header compiles alone as C99 with every warning as an error. */
#include "tabsnap.h"
