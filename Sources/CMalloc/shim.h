/* glibc malloc tuning (mallopt) for the tickd executable. */
#include <malloc.h>
