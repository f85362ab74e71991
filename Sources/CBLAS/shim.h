// OpenBLAS's C interface: cblas_sgemm and the thread-count controls.
#include <stddef.h>
#include <cblas.h>

// LAPACK's symmetric eigensolver, which OpenBLAS exports (Debian ships no
// lapacke.h for it): the Fortran interface, every argument by reference, and
// gfortran's hidden lengths of the two character arguments at the end.
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
            double *work, const int *lwork, int *info, size_t jobz_length, size_t uplo_length);
