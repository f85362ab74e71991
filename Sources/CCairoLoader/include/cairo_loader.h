#ifndef VAE_CAIRO_LOADER_H
#define VAE_CAIRO_LOADER_H

// Loads Cairo and fontconfig on first use (dlopen), so that commands which
// draw no chart do not load them at start-up. NULL when both are loaded,
// else the dynamic loader's message. Call it before any cairo_* or Fc*
// function: those defined in cairo_loader.c forward to the loaded libraries.
const char *vae_load_cairo(void);

#endif
