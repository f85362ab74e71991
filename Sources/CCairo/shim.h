// Cairo draws the charts (antialiased paths, text through fontconfig and
// FreeType) onto image, SVG and PDF surfaces; fontconfig tells whether a font
// is there before anything is drawn.
#include <cairo.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <fontconfig/fontconfig.h>
