// Cairo and fontconfig, loaded when the first chart is drawn.
//
// Linked directly, libcairo and libfontconfig (and what they pull in:
// pixman, FreeType, the X11 client libraries, Brotli, ...) are mapped and
// relocated at every start of `vae`, about 2 ms, for every command. Instead
// this file defines each function the charts call, with the declaration from
// Cairo's and fontconfig's own headers (so the compiler checks every
// signature), forwarding to the function dlsym finds in the library that
// vae_load_cairo() opened.
#include "cairo_loader.h"

#include <cairo/cairo.h>
#include <cairo/cairo-pdf.h>
#include <cairo/cairo-svg.h>
#include <dlfcn.h>
#include <fontconfig/fontconfig.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *cairo_library, *fontconfig_library;
static const char *load_error;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
    cairo_library = dlopen("libcairo.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!cairo_library) { load_error = dlerror(); return; }
    fontconfig_library = dlopen("libfontconfig.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!fontconfig_library) { load_error = dlerror(); }
}

const char *vae_load_cairo(void) {
    pthread_once(&load_once, load);
    return load_error;
}

// A symbol every Cairo ≥ 1.16 and fontconfig 2 has; missing means a broken
// installation, which no input can cause.
static void *resolve(void *library, const char *name) {
    void *symbol = library ? dlsym(library, name) : NULL;
    if (!symbol) {
        fprintf(stderr, "vae: %s not found in the loaded Cairo or fontconfig library\n", name);
        abort();
    }
    return symbol;
}

#define FORWARD(library, type, name, parameters, arguments)                          \
    type name parameters {                                                           \
        static type (*real) parameters;                                              \
        if (!real) real = (type (*) parameters) resolve(library, #name);             \
        return real arguments;                                                       \
    }
#define FORWARD_VOID(library, name, parameters, arguments)                           \
    void name parameters {                                                           \
        static void (*real) parameters;                                              \
        if (!real) real = (void (*) parameters) resolve(library, #name);             \
        real arguments;                                                              \
    }
#define CAIRO(type, name, parameters, arguments) FORWARD(cairo_library, type, name, parameters, arguments)
#define CAIRO_VOID(name, parameters, arguments) FORWARD_VOID(cairo_library, name, parameters, arguments)
#define FC(type, name, parameters, arguments) FORWARD(fontconfig_library, type, name, parameters, arguments)
#define FC_VOID(name, parameters, arguments) FORWARD_VOID(fontconfig_library, name, parameters, arguments)

// Surfaces and contexts.
CAIRO(cairo_surface_t *, cairo_image_surface_create, (cairo_format_t f, int w, int h), (f, w, h))
CAIRO(cairo_surface_t *, cairo_svg_surface_create_for_stream, (cairo_write_func_t f, void *c, double w, double h), (f, c, w, h))
CAIRO(cairo_surface_t *, cairo_pdf_surface_create_for_stream, (cairo_write_func_t f, void *c, double w, double h), (f, c, w, h))
CAIRO_VOID(cairo_pdf_surface_set_metadata, (cairo_surface_t *s, cairo_pdf_metadata_t m, const char *v), (s, m, v))
CAIRO(cairo_t *, cairo_create, (cairo_surface_t *s), (s))
CAIRO(cairo_status_t, cairo_status, (cairo_t *c), (c))
CAIRO(const char *, cairo_status_to_string, (cairo_status_t s), (s))
CAIRO_VOID(cairo_destroy, (cairo_t *c), (c))
CAIRO_VOID(cairo_surface_destroy, (cairo_surface_t *s), (s))
CAIRO_VOID(cairo_surface_flush, (cairo_surface_t *s), (s))
CAIRO_VOID(cairo_surface_finish, (cairo_surface_t *s), (s))
CAIRO_VOID(cairo_surface_mark_dirty, (cairo_surface_t *s), (s))
CAIRO(cairo_status_t, cairo_surface_status, (cairo_surface_t *s), (s))
CAIRO(cairo_status_t, cairo_surface_write_to_png_stream, (cairo_surface_t *s, cairo_write_func_t f, void *c), (s, f, c))
CAIRO(int, cairo_format_stride_for_width, (cairo_format_t f, int w), (f, w))
CAIRO(unsigned char *, cairo_image_surface_get_data, (cairo_surface_t *s), (s))

// Paths, state and sources.
CAIRO_VOID(cairo_set_source_rgba, (cairo_t *c, double r, double g, double b, double a), (c, r, g, b, a))
CAIRO_VOID(cairo_set_source_surface, (cairo_t *c, cairo_surface_t *s, double x, double y), (c, s, x, y))
CAIRO(cairo_pattern_t *, cairo_get_source, (cairo_t *c), (c))
CAIRO_VOID(cairo_pattern_set_filter, (cairo_pattern_t *p, cairo_filter_t f), (p, f))
CAIRO_VOID(cairo_move_to, (cairo_t *c, double x, double y), (c, x, y))
CAIRO_VOID(cairo_line_to, (cairo_t *c, double x, double y), (c, x, y))
CAIRO_VOID(cairo_rectangle, (cairo_t *c, double x, double y, double w, double h), (c, x, y, w, h))
CAIRO_VOID(cairo_new_sub_path, (cairo_t *c), (c))
CAIRO_VOID(cairo_arc, (cairo_t *c, double x, double y, double r, double a1, double a2), (c, x, y, r, a1, a2))
CAIRO_VOID(cairo_set_line_width, (cairo_t *c, double w), (c, w))
CAIRO_VOID(cairo_set_line_join, (cairo_t *c, cairo_line_join_t j), (c, j))
CAIRO_VOID(cairo_set_dash, (cairo_t *c, const double *d, int n, double o), (c, d, n, o))
CAIRO_VOID(cairo_stroke, (cairo_t *c), (c))
CAIRO_VOID(cairo_fill, (cairo_t *c), (c))
CAIRO_VOID(cairo_paint, (cairo_t *c), (c))
CAIRO_VOID(cairo_clip, (cairo_t *c), (c))
CAIRO_VOID(cairo_save, (cairo_t *c), (c))
CAIRO_VOID(cairo_restore, (cairo_t *c), (c))
CAIRO_VOID(cairo_translate, (cairo_t *c, double x, double y), (c, x, y))
CAIRO_VOID(cairo_scale, (cairo_t *c, double x, double y), (c, x, y))
CAIRO_VOID(cairo_rotate, (cairo_t *c, double a), (c, a))

// Text.
CAIRO_VOID(cairo_select_font_face, (cairo_t *c, const char *f, cairo_font_slant_t s, cairo_font_weight_t w), (c, f, s, w))
CAIRO_VOID(cairo_set_font_size, (cairo_t *c, double s), (c, s))
CAIRO_VOID(cairo_text_extents, (cairo_t *c, const char *t, cairo_text_extents_t *e), (c, t, e))
CAIRO_VOID(cairo_show_text, (cairo_t *c, const char *t), (c, t))

// fontconfig: the font charts use, and the characters it has.
FC(FcBool, FcInit, (void), ())
FC(FcPattern *, FcNameParse, (const FcChar8 *n), (n))
FC_VOID(FcPatternDestroy, (FcPattern *p), (p))
FC(FcBool, FcConfigSubstitute, (FcConfig *c, FcPattern *p, FcMatchKind k), (c, p, k))
FC_VOID(FcDefaultSubstitute, (FcPattern *p), (p))
FC(FcPattern *, FcFontMatch, (FcConfig *c, FcPattern *p, FcResult *r), (c, p, r))
FC(FcResult, FcPatternGetString, (const FcPattern *p, const char *o, int n, FcChar8 **s), (p, o, n, s))
FC(FcResult, FcPatternGetCharSet, (const FcPattern *p, const char *o, int n, FcCharSet **c), (p, o, n, c))
FC(FcCharSet *, FcCharSetCopy, (FcCharSet *c), (c))
FC(FcBool, FcCharSetHasChar, (const FcCharSet *c, FcChar32 u), (c, u))
