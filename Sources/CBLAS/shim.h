// OpenBLAS's C interface: cblas_sgemm and the thread-count controls.
#include <cblas.h>
