// zlib: streaming inflate of gzip-wrapped IDX files.
#include <zlib.h>
