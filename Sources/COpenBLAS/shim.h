#include <cblas.h>
#include <stddef.h>

/* LAPACK routines exported by Debian's libopenblas (Fortran ABI: every argument by pointer, hidden
   character-length arguments last). Declared here because OpenBLAS's cblas.h does not declare them. */
void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda, float *s, float *u,
             const int *ldu, float *vt, const int *ldvt, float *work, const int *lwork, int *iwork, int *info,
             size_t jobz_len);
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t uplo_len);
void spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a, const int *lda, float *b,
             const int *ldb, int *info, size_t uplo_len);
void sgels_(const char *trans, const int *m, const int *n, const int *nrhs, float *a, const int *lda, float *b,
            const int *ldb, float *work, const int *lwork, int *info, size_t trans_len);

/* Stops OpenBLAS's worker threads (exported by libopenblas; not in cblas.h). They are started when the
   library loads and yield-spin for ~0.1 s after every call; the next threaded BLAS call starts them again. */
int blas_thread_shutdown_(void);
