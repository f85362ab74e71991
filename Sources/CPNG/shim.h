// libpng's simplified API (png_image_*): it reports errors through
// png_image.message and a return code, so no setjmp/longjmp reaches Swift.
#include <png.h>

// libpng's own upper bound on an image's encoded size (a macro Swift cannot
// call), so one write into a buffer of this size always fits.
static inline png_alloc_size_t vae_png_image_size_max(const png_image *image) {
    return PNG_IMAGE_PNG_SIZE_MAX(*image);
}
