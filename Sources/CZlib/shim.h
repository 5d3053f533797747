// zlib for streaming gzip input (gzread also passes plain data through unchanged).
#include <zlib.h>
