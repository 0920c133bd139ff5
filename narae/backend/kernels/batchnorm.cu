// Batch normalization over (N, C, S) data (S = product of the spatial dims, 1 for (N, C)).
//
// The per-channel statistics and the two per-channel sums of the backward pass are left to
// the array module's reductions (CUB on CuPy); these kernels are the element-wise passes that
// would otherwise cost several temporaries each: one thread per element, its channel read off
// the flat index.

__device__ __forceinline__ long long bn_channel(long long i, long long C, long long S) {
    return (i / S) % C;
}

// y = (x - mean[c]) * invstd[c] * weight[c] + bias[c]   (weight / bias optional)
extern "C" __global__ void bn_forward(const T* __restrict__ x, const T* __restrict__ mean,
                                      const T* __restrict__ invstd, const T* __restrict__ weight,
                                      const T* __restrict__ bias, T* __restrict__ y,
                                      int has_weight, int has_bias,
                                      long long C, long long S, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        long long c = bn_channel(i, C, S);
        T v = (x[i] - mean[c]) * invstd[c];
        if (has_weight) v *= weight[c];
        if (has_bias) v += bias[c];
        y[i] = v;
    }
}

// Training-mode input gradient, statistics from the batch itself:
//   gx = weight * invstd * (gy - sum_gy / count - xhat * sum_gy_xhat / count),
//   xhat = (x - mean) * invstd.
extern "C" __global__ void bn_backward_train(const T* __restrict__ x, const T* __restrict__ gy,
                                             const T* __restrict__ mean,
                                             const T* __restrict__ invstd,
                                             const T* __restrict__ weight,
                                             const T* __restrict__ sum_gy,
                                             const T* __restrict__ sum_gy_xhat,
                                             T* __restrict__ gx, int has_weight, T inv_count,
                                             long long C, long long S, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        long long c = bn_channel(i, C, S);
        T rs = invstd[c];
        T xhat = (x[i] - mean[c]) * rs;
        T k = has_weight ? weight[c] * rs : rs;
        gx[i] = k * (gy[i] - sum_gy[c] * inv_count - xhat * (sum_gy_xhat[c] * inv_count));
    }
}

// Evaluation-mode input gradient (fixed statistics): gx = gy * weight * invstd.
extern "C" __global__ void bn_backward_eval(const T* __restrict__ gy,
                                            const T* __restrict__ invstd,
                                            const T* __restrict__ weight, T* __restrict__ gx,
                                            int has_weight, long long C, long long S,
                                            long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        long long c = bn_channel(i, C, S);
        T k = has_weight ? weight[c] * invstd[c] : invstd[c];
        gx[i] = gy[i] * k;
    }
}
