// 2-D max and average pooling on NCHW planes (N*C planes of H x W, outputs Ho x Wo).
//
// Forward kernels run one thread per output; backward kernels run one thread per input
// element and gather from the windows that cover it (deterministic, no atomics). Padding is
// never materialised: reads outside the plane are skipped, which is -inf padding for max and
// zero padding for average. The bottom/right extent (ceil_mode) follows from Ho, Wo.
// Argmax indices are flat positions h * W + w in the input plane (torch's return_indices).

// The kernel offsets [first, last) of output position o whose reads fall inside [0, n).
__device__ __forceinline__ void window_span(int o, int s, int p, int d, int k, int n,
                                            int* first, int* last) {
    int start = o * s - p;
    int lo = 0;
    while (lo < k && start + lo * d < 0) ++lo;
    int hi = k;
    while (hi > lo && start + (hi - 1) * d >= n) --hi;
    *first = lo;
    *last = hi;
}

// The gather form of the backward kernels: calls visit(o) for every output position o (flat
// in its Ho x Wo plane) whose window reads input (h, w). Window offset i covers h when
// h + pt - i * dh is a multiple of sh that names an output row; offsets run upwards, so the
// first negative position ends the scan.
template <class Visit>
__device__ __forceinline__ void for_each_covering_output(int h, int w, int kh, int kw, int sh,
                                                         int sw, int pt, int pl, int dh, int dw,
                                                         int Ho, int Wo, Visit visit) {
    for (int i = 0; i < kh; ++i) {
        int th = h + pt - i * dh;
        if (th < 0) break;
        if (th % sh != 0 || th / sh >= Ho) continue;
        for (int j = 0; j < kw; ++j) {
            int tw = w + pl - j * dw;
            if (tw < 0) break;
            if (tw % sw != 0 || tw / sw >= Wo) continue;
            visit((th / sh) * Wo + tw / sw);
        }
    }
}

// Max pool: the first maximum in scan order wins, a NaN beats any number and a later NaN an
// earlier one (torch's rule: replace when v > best or v is NaN). A window that reads only
// padding (possible with dilation) gives ``empty`` (-inf, passed in: no portable literal)
// and index -1, which the backward kernels treat as "no input".
extern "C" __global__ void max_pool_fwd(const T* __restrict__ x, T* __restrict__ y,
                                        long long* __restrict__ idx, int H, int W, int kh,
                                        int kw, int sh, int sw, int pt, int pl, int dh, int dw,
                                        int Ho, int Wo, T empty, long long total) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)blockDim.x * gridDim.x) {
        int wo = (int)(e % Wo);
        int ho = (int)((e / Wo) % Ho);
        const T* plane = x + (e / ((long long)Wo * Ho)) * H * W;
        int i0, i1, j0, j1;
        window_span(ho, sh, pt, dh, kh, H, &i0, &i1);
        window_span(wo, sw, pl, dw, kw, W, &j0, &j1);
        T best = empty;
        long long arg = -1;
        for (int i = i0; i < i1; ++i) {
            int h = ho * sh - pt + i * dh;
            for (int j = j0; j < j1; ++j) {
                int w = wo * sw - pl + j * dw;
                T v = plane[h * W + w];
                if (arg < 0 || v > best || v != v) {
                    best = v;
                    arg = (long long)h * W + w;
                }
            }
        }
        y[e] = best;
        idx[e] = arg;
    }
}

// Max pool backward: each input element sums the gradients of the outputs whose argmax it is.
extern "C" __global__ void max_pool_bwd(const T* __restrict__ gy,
                                        const long long* __restrict__ idx, T* __restrict__ gx,
                                        int H, int W, int kh, int kw, int sh, int sw, int pt,
                                        int pl, int dh, int dw, int Ho, int Wo, long long total) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)blockDim.x * gridDim.x) {
        int w = (int)(e % W);
        int h = (int)((e / W) % H);
        long long base = (e / ((long long)W * H)) * Ho * Wo;
        long long self = (long long)h * W + w;
        T acc = (T)0;
        for_each_covering_output(h, w, kh, kw, sh, sw, pt, pl, dh, dw, Ho, Wo, [&](int o) {
            if (idx[base + o] == self) acc += gy[base + o];
        });
        gx[e] = acc;
    }
}

// Read each output's argmax input: y[e] = x[plane].flat[idx[e]] (the adjoint of max_pool_bwd).
extern "C" __global__ void max_pool_gather(const T* __restrict__ x,
                                           const long long* __restrict__ idx,
                                           T* __restrict__ y, long long in_plane,
                                           long long out_plane, long long total) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)blockDim.x * gridDim.x) {
        long long k = idx[e];
        y[e] = k < 0 ? (T)0 : x[(e / out_plane) * in_plane + k];
    }
}

// Average pool: the window's in-plane sum times the output position's 1/divisor (inv[ho, wo],
// computed on the host with torch's count_include_pad / ceil_mode / divisor_override rules).
extern "C" __global__ void avg_pool_fwd(const T* __restrict__ x, const T* __restrict__ inv,
                                        T* __restrict__ y, int H, int W, int kh, int kw, int sh,
                                        int sw, int pt, int pl, int dh, int dw, int Ho, int Wo,
                                        long long total) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)blockDim.x * gridDim.x) {
        int wo = (int)(e % Wo);
        int ho = (int)((e / Wo) % Ho);
        const T* plane = x + (e / ((long long)Wo * Ho)) * H * W;
        int i0, i1, j0, j1;
        window_span(ho, sh, pt, dh, kh, H, &i0, &i1);
        window_span(wo, sw, pl, dw, kw, W, &j0, &j1);
        T acc = (T)0;
        for (int i = i0; i < i1; ++i) {
            const T* row = plane + (ho * sh - pt + i * dh) * W;
            for (int j = j0; j < j1; ++j)
                acc += row[wo * sw - pl + j * dw];
        }
        y[e] = acc * inv[ho * Wo + wo];
    }
}

// Average pool backward (its adjoint): each input element gathers gy * inv over its windows.
extern "C" __global__ void avg_pool_bwd(const T* __restrict__ gy, const T* __restrict__ inv,
                                        T* __restrict__ gx, int H, int W, int kh, int kw, int sh,
                                        int sw, int pt, int pl, int dh, int dw, int Ho, int Wo,
                                        long long total) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)blockDim.x * gridDim.x) {
        int w = (int)(e % W);
        int h = (int)((e / W) % H);
        const T* g = gy + (e / ((long long)W * H)) * Ho * Wo;
        T acc = (T)0;
        for_each_covering_output(h, w, kh, kw, sh, sw, pt, pl, dh, dw, Ho, Wo,
                                 [&](int o) { acc += g[o] * inv[o]; });
        gx[e] = acc;
    }
}
