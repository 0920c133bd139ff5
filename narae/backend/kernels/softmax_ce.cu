// Row-wise softmax / log_softmax and fused softmax cross-entropy against class indices.
//
// The reduced axis of length C sits between an outer and an inner extent D: in a C-order
// array of shape (outer, C, D) row r = (n, j) holds the C values at n*C*D + c*D + j. The
// last axis is D == 1; (N, C, H, W) logits need no transpose (and neighbouring threads then
// read neighbouring addresses). One thread walks one row: meant for C up to a few thousand.

#define NARAE_EACH(i, n) \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

__device__ __forceinline__ long long narae_row_start(long long r, long long C, long long D) {
    return (r / D) * C * D + r % D;
}

// the row's maximum; NaN wins (as in NumPy's max), so NaN rows stay NaN
__device__ __forceinline__ T narae_row_max(const T* xr, long long C, long long D) {
    T m = xr[0];
    for (long long c = 1; c < C; ++c) {
        T v = xr[c * D];
        if (v > m || v != v) m = v;
    }
    return m;
}

__device__ __forceinline__ T narae_row_sum_exp(const T* xr, long long C, long long D, T m) {
    T s = (T)0;
    for (long long c = 0; c < C; ++c) s += exp(xr[c * D] - m);
    return s;
}

extern "C" __global__ void softmax_fwd(const T* __restrict__ x, T* __restrict__ y,
                                       long long rows, long long C, long long D) {
    NARAE_EACH(r, rows) {
        long long start = narae_row_start(r, C, D);
        const T* xr = x + start;
        T* yr = y + start;
        T m = narae_row_max(xr, C, D);
        T s = narae_row_sum_exp(xr, C, D, m);
        for (long long c = 0; c < C; ++c) yr[c * D] = exp(xr[c * D] - m) / s;
    }
}

extern "C" __global__ void log_softmax_fwd(const T* __restrict__ x, T* __restrict__ y,
                                           long long rows, long long C, long long D) {
    NARAE_EACH(r, rows) {
        long long start = narae_row_start(r, C, D);
        const T* xr = x + start;
        T* yr = y + start;
        T m = narae_row_max(xr, C, D);
        T logs = log(narae_row_sum_exp(xr, C, D, m));
        for (long long c = 0; c < C; ++c) yr[c * D] = (xr[c * D] - m) - logs;
    }
}

// gx = y * (gy - <gy, y>) along the row
extern "C" __global__ void softmax_bwd(const T* __restrict__ y, const T* __restrict__ gy,
                                       T* __restrict__ gx, long long rows, long long C,
                                       long long D) {
    NARAE_EACH(r, rows) {
        long long start = narae_row_start(r, C, D);
        T dot = (T)0;
        for (long long c = 0; c < C; ++c) dot += gy[start + c * D] * y[start + c * D];
        for (long long c = 0; c < C; ++c) {
            long long k = start + c * D;
            gx[k] = y[k] * (gy[k] - dot);
        }
    }
}

// gx = gy - exp(y) * sum(gy) along the row (y = log_softmax(x))
extern "C" __global__ void log_softmax_bwd(const T* __restrict__ y, const T* __restrict__ gy,
                                           T* __restrict__ gx, long long rows, long long C,
                                           long long D) {
    NARAE_EACH(r, rows) {
        long long start = narae_row_start(r, C, D);
        T total = (T)0;
        for (long long c = 0; c < C; ++c) total += gy[start + c * D];
        for (long long c = 0; c < C; ++c) {
            long long k = start + c * D;
            gx[k] = gy[k] - exp(y[k]) * total;
        }
    }
}

// Cross entropy of each row against class index t with the target distribution
//   q_c = hit * w_t * [c == t] + spread * w_c    (all zero where t == ignore_index),
// hit = 1 - label_smoothing, spread = label_smoothing / C, w = 1 without a weight.
// loss = sum_c q_c * (lse - x_c). Saved for the backward: lse and qsum = sum_c q_c; the
// weighted mean's denominator takes row_weight = w_t (0 where ignored).
extern "C" __global__ void cross_entropy_fwd(const T* __restrict__ x,
                                             const long long* __restrict__ target,
                                             const T* __restrict__ weight, T* __restrict__ loss,
                                             T* __restrict__ lse, T* __restrict__ qsum,
                                             T* __restrict__ row_weight, long long rows,
                                             long long C, long long D, long long ignore_index,
                                             T hit, T spread, int has_weight) {
    NARAE_EACH(r, rows) {
        const T* xr = x + narae_row_start(r, C, D);
        T m = narae_row_max(xr, C, D);
        T s = (T)0, wsum = (T)0, wshift = (T)0;  // wshift = sum_c w_c (x_c - m)
        for (long long c = 0; c < C; ++c) {
            T v = xr[c * D] - m;
            s += exp(v);
            if (spread > (T)0) {
                T wc = has_weight ? weight[c] : (T)1;
                wsum += wc;
                wshift += wc * v;
            }
        }
        T logs = log(s);
        lse[r] = m + logs;
        long long t = target[r];
        if (t == ignore_index) {
            loss[r] = (T)0;
            qsum[r] = (T)0;
            row_weight[r] = (T)0;
            continue;
        }
        T wt = has_weight ? weight[t] : (T)1;
        T l = hit * wt * (logs - (xr[t * D] - m));
        T q = hit * wt;
        if (spread > (T)0) {  // both terms are >= 0: no cancellation
            l += spread * (logs * wsum - wshift);
            q += spread * wsum;
        }
        loss[r] = l;
        qsum[r] = q;
        row_weight[r] = wt;
    }
}

// gx = gloss[row] * (softmax(x) * qsum[row] - q_c), one thread per element of x
extern "C" __global__ void cross_entropy_bwd(const T* __restrict__ x,
                                             const long long* __restrict__ target,
                                             const T* __restrict__ weight,
                                             const T* __restrict__ lse,
                                             const T* __restrict__ qsum,
                                             const T* __restrict__ gloss, T* __restrict__ gx,
                                             long long n, long long C, long long D,
                                             long long ignore_index, T hit, T spread,
                                             int has_weight) {
    NARAE_EACH(i, n) {
        long long c = (i / D) % C;
        long long r = (i / (C * D)) * D + i % D;
        long long t = target[r];
        T q = (T)0;
        if (t != ignore_index) {
            T wc = has_weight ? weight[c] : (T)1;
            q = spread * wc;
            if (c == t) q += hit * wc;
        }
        gx[i] = gloss[r] * (exp(x[i] - lse[r]) * qsum[r] - q);
    }
}
