// The header compiles alone as C++17 with every warning as an error.
#include "tabsnap.h"
