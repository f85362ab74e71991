// libpng's simplified API (png_image_*): it reports errors through
// png_image.message and a return code, so no setjmp/longjmp reaches Swift.
#include <png.h>
