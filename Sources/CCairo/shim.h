// Cairo draws the charts (antialiased paths, text through fontconfig and
// FreeType) onto image, SVG and PDF surfaces; fontconfig tells whether a font
// is there before anything is drawn. Headers only: the functions come from
// CCairoLoader, which loads the libraries on first use.
#include <cairo/cairo.h>
#include <cairo/cairo-pdf.h>
#include <cairo/cairo-svg.h>
#include <fontconfig/fontconfig.h>
