// One-core cost of cutting a GEMM into tiles, as BLAS.gemm does (Sources/GlossaTensor/BLAS.swift, GEMMTiling):
// the best of 15 CPU times of one cblas_sgemm call against the same product done tile by tile (m or n cuts; k cuts
// with partial products added in tile order), and whether m/n cuts are bit-identical to the single call.
//   gcc -O3 -march=native Tests/bench/gemm_tiles.c -o /tmp/gemm_tiles -lopenblas
//   OPENBLAS_CORETYPE=Cooperlake /tmp/gemm_tiles TRANSA TRANSB M N K AXIS(0|m|n|k) TILE
//   e.g. /tmp/gemm_tiles 1 0 704 256 2048 k 256     (an FFN weight gradient of the training benchmark)
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double cpu(){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
// row-major C(m×n) = op(A)·op(B); tiles along dim 'm' or 'n' of size ts
static void run(int ta,int tb,int m,int n,int k,float*a,float*b,float*c,char split,int ts){
  int lda= ta? m:k, ldb= tb? k:n;
  if(split=='0'){cblas_sgemm(CblasRowMajor,ta?CblasTrans:CblasNoTrans,tb?CblasTrans:CblasNoTrans,m,n,k,1,a,lda,b,ldb,0,c,n);return;}
  if(split=='m') for(int i=0;i<m;i+=ts){int mm=m-i<ts?m-i:ts;
     cblas_sgemm(CblasRowMajor,ta?CblasTrans:CblasNoTrans,tb?CblasTrans:CblasNoTrans,mm,n,k,1,ta?a+i:a+(long)i*lda,lda,b,ldb,0,c+(long)i*n,n);}
  else if(split=='k'){ int T=(k+ts-1)/ts; static float*part=0; if(!part) part=malloc(4L*m*n*64);
     for(int t=0;t<T;t++){int p0=t*ts, kk=k-p0<ts?k-p0:ts;
       cblas_sgemm(CblasRowMajor,ta?CblasTrans:CblasNoTrans,tb?CblasTrans:CblasNoTrans,m,n,kk,1,ta?a+(long)p0*lda:a+p0,lda,tb?b+p0:b+(long)p0*ldb,ldb,0,t==0?c:part+(long)(t-1)*m*n,n);}
     for(int t=1;t<T;t++){float*p=part+(long)(t-1)*m*n; for(long i=0;i<(long)m*n;i++)c[i]+=p[i];} }
  else for(int j=0;j<n;j+=ts){int nn=n-j<ts?n-j:ts;
     cblas_sgemm(CblasRowMajor,ta?CblasTrans:CblasNoTrans,tb?CblasTrans:CblasNoTrans,m,nn,k,1,a,lda,tb?b+(long)j*ldb:b+j,ldb,0,c+j,n);}
}
int main(int argc,char**argv){
  int ta=atoi(argv[1]),tb=atoi(argv[2]),m=atoi(argv[3]),n=atoi(argv[4]),k=atoi(argv[5]);char split=argv[6][0];int ts=atoi(argv[7]);
  openblas_set_num_threads(1);
  float*a=malloc(4L*m*k),*b=malloc(4L*k*n),*c=malloc(4L*m*n),*c0=malloc(4L*m*n);
  for(long i=0;i<(long)m*k;i++)a[i]=(rand()%2001-1000)/1000.f;
  for(long i=0;i<(long)k*n;i++)b[i]=(rand()%2001-1000)/1000.f;
  run(ta,tb,m,n,k,a,b,c0,'0',0);
  double best0=1e9,best1=1e9;
  for(int r=0;r<15;r++){double t=cpu();run(ta,tb,m,n,k,a,b,c,'0',0);t=cpu()-t;if(t<best0)best0=t;
    t=cpu();run(ta,tb,m,n,k,a,b,c,split,ts);t=cpu()-t;if(t<best1)best1=t;}
  int same=1;for(long i=0;i<(long)m*n;i++)if(c[i]!=c0[i]){same=0;break;}
  printf("%d%d m=%d n=%d k=%d split %c/%d: untiled %.3f ms (%.0f GF/s) tiled %.3f ms overhead %.1f%% bitwise-same=%d\n",ta,tb,m,n,k,split,ts,best0*1e3,2.0*m*n*k/best0/1e9,best1*1e3,(best1/best0-1)*100,same);
}
