// Everything is in include/CPrefetch.h (static inline); a C target needs one source file.
#include "CPrefetch.h"
