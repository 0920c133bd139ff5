// im2col / col2im for NCHW convolutions (the GEMM itself is cuBLAS, via xp.matmul).
//
// The column matrix has C*kh*kw rows and n*Ho*Wo columns: row (c, i, j) in the order of a
// torch weight's flattened (Cg, kh, kw), column (b, ho, wo). Rows of one group are then one
// contiguous block, so a conv is W (g, O/g, K) @ col (g, K, n*Ho*Wo), a single (batched) GEMM
// with contiguous operands, and the weight needs no reordering.

// im2col: one thread per column-matrix element; padding reads as zero.
extern "C" __global__ void im2col(const T* __restrict__ x, T* __restrict__ col, int C, int H,
                                  int W, int kh, int kw, int sh, int sw, int pt, int pl, int dh,
                                  int dw, int Ho, int Wo, long long ncols, long long total) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)blockDim.x * gridDim.x) {
        long long q = e % ncols;          // column: (b, ho, wo)
        long long row = e / ncols;        // row: (c, i, j)
        int wo = (int)(q % Wo);
        long long t = q / Wo;
        int ho = (int)(t % Ho);
        long long b = t / Ho;
        int j = (int)(row % kw);
        int i = (int)((row / kw) % kh);
        long long c = row / ((long long)kw * kh);
        int h = ho * sh - pt + i * dh;
        int w = wo * sw - pl + j * dw;
        T v = (T)0;
        if (h >= 0 && h < H && w >= 0 && w < W)
            v = x[((b * C + c) * H + h) * W + w];
        col[e] = v;
    }
}

// col2im in gather form: one thread per input pixel (b, c, h, w) sums the column entries
// that read it. Deterministic (no atomics) and writes every output exactly once.
extern "C" __global__ void col2im(const T* __restrict__ col, T* __restrict__ x, int C, int H,
                                  int W, int kh, int kw, int sh, int sw, int pt, int pl, int dh,
                                  int dw, int Ho, int Wo, long long ncols, long long total) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)blockDim.x * gridDim.x) {
        int w = (int)(e % W);
        long long t = e / W;
        int h = (int)(t % H);
        t /= H;
        long long c = t % C;
        long long b = t / C;
        T acc = (T)0;
        for (int i = 0; i < kh; ++i) {
            int th = h + pt - i * dh;     // = ho * sh for the windows whose offset i hits h
            if (th < 0) break;
            if (th % sh != 0 || th / sh >= Ho) continue;
            int ho = th / sh;
            for (int j = 0; j < kw; ++j) {
                int tw = w + pl - j * dw;
                if (tw < 0) break;
                if (tw % sw != 0 || tw / sw >= Wo) continue;
                long long row = (c * kh + i) * kw + j;
                acc += col[row * ncols + (b * Ho + ho) * Wo + tw / sw];
            }
        }
        x[e] = acc;
    }
}
