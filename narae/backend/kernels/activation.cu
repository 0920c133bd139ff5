// Fused elementwise activations: each forward maps x -> y and each backward maps
// (x or y, gy) -> gx in one pass, one thread per element (grid-stride loops).
// The formulas follow narae/ops/activation.py's array code operation by operation, so the
// GPU path rounds like the CPU path. Piecewise-linear activations write a one-byte mask
// beside y; their gradient is gy * (mask ? a : b) (masked_scale).

#define NARAE_EACH(i, n) \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

#define NARAE_SQRT_2_OVER_PI 0.7978845608028654
#define NARAE_INV_SQRT_2PI 0.3989422804014327
#define NARAE_INV_SQRT_2 0.7071067811865476
#define NARAE_GELU_C 0.044715

// sigmoid from e = exp(-|v|) <= 1: no overflow, and full relative precision in the left
// tail (0.5 * (1 + tanh(v / 2)) rounds sigmoid(-30) to 0 in float32)
__device__ __forceinline__ T narae_sigmoid(T v) {
    T e = exp(-fabs(v));
    return v >= (T)0 ? (T)1 / ((T)1 + e) : e / ((T)1 + e);
}

// --- relu, sigmoid, tanh: the backward reads the output y --------------------------------
extern "C" __global__ void relu_fwd(const T* __restrict__ x, T* __restrict__ y, long long n) {
    NARAE_EACH(i, n) {
        T v = x[i];
        y[i] = (v > (T)0 || v != v) ? v : (T)0;  // NaN passes, as in maximum(x, 0)
    }
}

extern "C" __global__ void relu_bwd(const T* __restrict__ y, const T* __restrict__ gy,
                                    T* __restrict__ gx, long long n) {
    NARAE_EACH(i, n) gx[i] = gy[i] * (T)(y[i] > (T)0);
}

extern "C" __global__ void sigmoid_fwd(const T* __restrict__ x, T* __restrict__ y, long long n) {
    NARAE_EACH(i, n) y[i] = narae_sigmoid(x[i]);
}

extern "C" __global__ void sigmoid_bwd(const T* __restrict__ y, const T* __restrict__ gy,
                                       T* __restrict__ gx, long long n) {
    NARAE_EACH(i, n) {
        T v = y[i];
        gx[i] = gy[i] * v * ((T)1 - v);
    }
}

extern "C" __global__ void tanh_fwd(const T* __restrict__ x, T* __restrict__ y, long long n) {
    NARAE_EACH(i, n) y[i] = tanh(x[i]);
}

extern "C" __global__ void tanh_bwd(const T* __restrict__ y, const T* __restrict__ gy,
                                    T* __restrict__ gx, long long n) {
    NARAE_EACH(i, n) {
        T v = y[i];
        gx[i] = gy[i] * ((T)1 - v * v);
    }
}

// --- smooth activations: the backward reads the input x ----------------------------------
// elu, selu and celu: scale * (v if v > 0 else alpha * expm1(v * s_in))
extern "C" __global__ void elu_fwd(const T* __restrict__ x, T* __restrict__ y, long long n,
                                   T alpha, T scale, T s_in) {
    NARAE_EACH(i, n) {
        T v = x[i];
        T neg = v > (T)0 ? (T)0 : v;  // NaN stays NaN (min(v, 0) in the array code)
        neg = expm1(neg * s_in) * alpha;
        y[i] = (v > (T)0 ? v : neg) * scale;
    }
}

// slope: scale where v > 0, else exp(v * s_in) * (scale * alpha * s_in), passed as curve
extern "C" __global__ void elu_bwd(const T* __restrict__ x, const T* __restrict__ gy,
                                   T* __restrict__ gx, long long n, T scale, T s_in, T curve) {
    NARAE_EACH(i, n) {
        T v = x[i];
        T neg = v > (T)0 ? (T)0 : v;
        T slope = exp(neg * s_in) * curve;
        gx[i] = gy[i] * (v > (T)0 ? scale : slope);
    }
}

// gelu with erf: v * Phi(v)
extern "C" __global__ void gelu_fwd(const T* __restrict__ x, T* __restrict__ y, long long n) {
    NARAE_EACH(i, n) {
        T v = x[i];
        y[i] = v * (erf(v * (T)NARAE_INV_SQRT_2) + (T)1) * (T)0.5;
    }
}

extern "C" __global__ void gelu_bwd(const T* __restrict__ x, const T* __restrict__ gy,
                                    T* __restrict__ gx, long long n) {
    NARAE_EACH(i, n) {
        T v = x[i];
        T cdf = (erf(v * (T)NARAE_INV_SQRT_2) + (T)1) * (T)0.5;
        T pdf = exp(v * v * (T)-0.5) * (T)NARAE_INV_SQRT_2PI;
        gx[i] = gy[i] * (cdf + v * pdf);
    }
}

// gelu's tanh approximation: v/2 * (1 + tanh(sqrt(2/pi) * (v + c v^3)))
extern "C" __global__ void gelu_tanh_fwd(const T* __restrict__ x, T* __restrict__ y,
                                         long long n) {
    NARAE_EACH(i, n) {
        T v = x[i];
        T t = tanh((v + (T)NARAE_GELU_C * v * v * v) * (T)NARAE_SQRT_2_OVER_PI);
        y[i] = v * (t + (T)1) * (T)0.5;
    }
}

extern "C" __global__ void gelu_tanh_bwd(const T* __restrict__ x, const T* __restrict__ gy,
                                         T* __restrict__ gx, long long n) {
    NARAE_EACH(i, n) {
        T v = x[i];
        T v2 = v * v;
        T t = tanh((v + (T)NARAE_GELU_C * v2 * v) * (T)NARAE_SQRT_2_OVER_PI);
        T du = ((T)1 + (T)(3 * NARAE_GELU_C) * v2) * (T)NARAE_SQRT_2_OVER_PI;
        gx[i] = gy[i] * (((T)1 + t + v * ((T)1 - t * t) * du) * (T)0.5);
    }
}

// silu: v * sigmoid(v)
extern "C" __global__ void silu_fwd(const T* __restrict__ x, T* __restrict__ y, long long n) {
    NARAE_EACH(i, n) {
        T v = x[i];
        y[i] = v * narae_sigmoid(v);
    }
}

extern "C" __global__ void silu_bwd(const T* __restrict__ x, const T* __restrict__ gy,
                                    T* __restrict__ gx, long long n) {
    NARAE_EACH(i, n) {
        T v = x[i];
        T s = narae_sigmoid(v);
        gx[i] = gy[i] * s * ((T)1 + v * ((T)1 - s));
    }
}

// softplus: (log1p(exp(-|bv|)) + max(bv, 0)) / beta, linear where bv > threshold
extern "C" __global__ void softplus_fwd(const T* __restrict__ x, T* __restrict__ y, long long n,
                                        T beta, T threshold) {
    NARAE_EACH(i, n) {
        T v = x[i];
        T bv = v * beta;
        T smooth = (log1p(exp(-fabs(bv))) + (bv > (T)0 ? bv : (T)0)) / beta;
        y[i] = bv > threshold ? v : smooth;
    }
}

extern "C" __global__ void softplus_bwd(const T* __restrict__ x, const T* __restrict__ gy,
                                        T* __restrict__ gx, long long n, T beta, T threshold) {
    NARAE_EACH(i, n) {
        T bv = x[i] * beta;
        gx[i] = gy[i] * (bv > threshold ? (T)1 : narae_sigmoid(bv));
    }
}

// hardswish: v * relu6(v + 3) / 6; slopes 0 up to -3 (included), v / 3 + 0.5, 1 from 3 on
extern "C" __global__ void hardswish_fwd(const T* __restrict__ x, T* __restrict__ y,
                                         long long n) {
    NARAE_EACH(i, n) {
        T v = x[i];
        T r = v + (T)3;
        r = r < (T)0 ? (T)0 : (r > (T)6 ? (T)6 : r);
        y[i] = v * r / (T)6;
    }
}

extern "C" __global__ void hardswish_bwd(const T* __restrict__ x, const T* __restrict__ gy,
                                         T* __restrict__ gx, long long n) {
    NARAE_EACH(i, n) {
        T v = x[i];
        T d = v <= (T)-3 ? (T)0 : (v < (T)3 ? v / (T)3 + (T)0.5 : (T)1);
        gx[i] = gy[i] * d;
    }
}

// --- piecewise-linear activations: y and a mask; the gradient is gy * (mask ? a : b) -------
extern "C" __global__ void leaky_relu_fwd(const T* __restrict__ x, T* __restrict__ y,
                                          unsigned char* __restrict__ mask, long long n,
                                          T slope) {
    NARAE_EACH(i, n) {
        T v = x[i];
        bool pos = v > (T)0;
        y[i] = pos ? v : v * slope;
        mask[i] = pos;
    }
}

// clip to [lo, hi]; the gradient passes strictly inside (lo, hi)
extern "C" __global__ void hardtanh_fwd(const T* __restrict__ x, T* __restrict__ y,
                                        unsigned char* __restrict__ mask, long long n,
                                        T lo, T hi) {
    NARAE_EACH(i, n) {
        T v = x[i];
        y[i] = v < lo ? lo : (v > hi ? hi : v);  // NaN passes, as in clip
        mask[i] = v > lo && v < hi;
    }
}

// clip(v / 6 + 0.5, 0, 1); slope 1/6 strictly inside (-3, 3)
extern "C" __global__ void hardsigmoid_fwd(const T* __restrict__ x, T* __restrict__ y,
                                           unsigned char* __restrict__ mask, long long n) {
    NARAE_EACH(i, n) {
        T v = x[i];
        T r = v / (T)6 + (T)0.5;
        y[i] = r < (T)0 ? (T)0 : (r > (T)1 ? (T)1 : r);
        mask[i] = v > (T)-3 && v < (T)3;
    }
}

extern "C" __global__ void masked_scale(const unsigned char* __restrict__ mask,
                                        const T* __restrict__ gy, T* __restrict__ gx,
                                        long long n, T a, T b) {
    NARAE_EACH(i, n) gx[i] = gy[i] * (mask[i] ? a : b);
}
