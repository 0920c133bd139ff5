// The pointwise half of one LSTM / GRU time step, forward and backward.
//
// Per step the recurrent GEMM (h @ W_hh^T) runs first; one of these kernels then does all of
// the gate math that would otherwise be a dozen element-wise launches. One thread per
// (batch row b, hidden unit j); gate rows are torch's: LSTM (i, f, g, o), GRU (r, z, n),
// each of width H, so gate k of unit j in row b sits at b * (K * H) + k * H + j.
//
// Sigmoid gates arrive with their pre-activations halved (the caller folds the 0.5 into the
// weights and biases), so sigmoid(a) = 0.5 + 0.5 * tanh(a / 2) costs one tanh and never
// overflows. Backward works with the true pre-activations' gradients.
//
// mask (bool per batch row, has_mask != 0): at a padded step the state is carried unchanged,
// the output is zero and no gradient flows into the step's gates.

__device__ __forceinline__ T half_sigmoid(T a_half) {
    return (T)0.5 + (T)0.5 * tanh(a_half);
}

__device__ __forceinline__ bool step_valid(const bool* mask, int has_mask, long long b) {
    return !has_mask || mask[b];
}

// gates (B, 4H): in, the input side x W_ih^T + b (sigmoid rows halved); out, the activated
// gates i, f, g, o. hw (B, 4H): h W_hh^T with the same scaling. Writes tanh(c') (for
// backward), the output y and the next state (h_next, c_next).
extern "C" __global__ void lstm_forward_step(T* gates, const T* __restrict__ hw,
                                             const T* h_prev, const T* c_prev,
                                             const bool* __restrict__ mask, int has_mask,
                                             T* tanh_c, T* y, T* h_next, T* c_next,
                                             long long B, long long H) {
    long long n = B * H;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        long long b = i / H, j = i % H;
        T* g = gates + b * 4 * H + j;
        const T* w = hw + b * 4 * H + j;
        T si = half_sigmoid(g[0] + w[0]);
        T sf = half_sigmoid(g[H] + w[H]);
        T tg = tanh(g[2 * H] + w[2 * H]);
        T so = half_sigmoid(g[3 * H] + w[3 * H]);
        g[0] = si;
        g[H] = sf;
        g[2 * H] = tg;
        g[3 * H] = so;
        T c = c_prev[i];
        T cn = sf * c + si * tg;
        T tc = tanh(cn);
        T hn = so * tc;
        tanh_c[i] = tc;
        bool valid = step_valid(mask, has_mask, b);
        y[i] = valid ? hn : (T)0;
        h_next[i] = valid ? hn : h_prev[i];
        c_next[i] = valid ? cn : c;
    }
}

// dh (B, H): in, dLoss/dh' from later steps (dy is added here); out, the part of dh_prev that
// does not go through W_hh (zero, or all of it at a padded step) -- the caller adds
// dgates @ W_hh. dc (B, H): in dc', out dc_prev. dgates (B, 4H): the pre-activation gradients.
extern "C" __global__ void lstm_backward_step(const T* __restrict__ gates,
                                              const T* __restrict__ tanh_c,
                                              const T* __restrict__ c_prev,
                                              const T* __restrict__ dy, T* dh, T* dc,
                                              T* dgates, const bool* __restrict__ mask,
                                              int has_mask, long long B, long long H) {
    long long n = B * H;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        long long b = i / H, j = i % H;
        T* d = dgates + b * 4 * H + j;
        if (!step_valid(mask, has_mask, b)) {
            d[0] = d[H] = d[2 * H] = d[3 * H] = (T)0;
            continue;  // dh and dc pass through unchanged
        }
        const T* g = gates + b * 4 * H + j;
        T si = g[0], sf = g[H], tg = g[2 * H], so = g[3 * H];
        T tc = tanh_c[i];
        T dhv = dh[i] + dy[i];
        T dcv = dc[i] + dhv * (so * ((T)1 - tc * tc));
        d[0] = (dcv * tg) * (si * ((T)1 - si));
        d[H] = (dcv * c_prev[i]) * (sf * ((T)1 - sf));
        d[2 * H] = (dcv * si) * ((T)1 - tg * tg);
        d[3 * H] = (dhv * tc) * (so * ((T)1 - so));
        dc[i] = dcv * sf;
        dh[i] = (T)0;
    }
}

// gates (B, 3H): in, the input side (r, z halved; n is W_in x + b_in); out, r, z, n.
// hw (B, 3H): h W_hh^T (r, z halved; the n part without b_hn). Writes hwn = W_hn h + b_hn
// (backward needs it), the output y and the next state h_next.
extern "C" __global__ void gru_forward_step(T* gates, const T* __restrict__ hw,
                                            const T* __restrict__ b_hn, int has_bias,
                                            const T* h_prev, const bool* __restrict__ mask,
                                            int has_mask, T* hwn, T* y, T* h_next,
                                            long long B, long long H) {
    long long n = B * H;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        long long b = i / H, j = i % H;
        T* g = gates + b * 3 * H + j;
        const T* w = hw + b * 3 * H + j;
        T r = half_sigmoid(g[0] + w[0]);
        T z = half_sigmoid(g[H] + w[H]);
        T hn = has_bias ? w[2 * H] + b_hn[j] : w[2 * H];
        T nn = tanh(g[2 * H] + r * hn);
        g[0] = r;
        g[H] = z;
        g[2 * H] = nn;
        hwn[i] = hn;
        T h = h_prev[i];
        T out = (h - nn) * z + nn;
        bool valid = step_valid(mask, has_mask, b);
        y[i] = valid ? out : (T)0;
        h_next[i] = valid ? out : h;
    }
}

// dh (B, H): in, dLoss/dh' from later steps (dy is added here); out, the part of dh_prev that
// does not go through W_hh (z * dh', or all of it at a padded step) -- the caller adds
// dgates_h @ W_hh. dgates_x (B, 3H): gradients of the input-side pre-activations
// (W_i* x + b_i*); dgates_h (B, 3H): of the recurrent side (W_h* h + b_h*).
extern "C" __global__ void gru_backward_step(const T* __restrict__ gates,
                                             const T* __restrict__ h_prev,
                                             const T* __restrict__ hwn,
                                             const T* __restrict__ dy, T* dh, T* dgates_x,
                                             T* dgates_h, const bool* __restrict__ mask,
                                             int has_mask, long long B, long long H) {
    long long n = B * H;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        long long b = i / H, j = i % H;
        T* dx = dgates_x + b * 3 * H + j;
        T* dr = dgates_h + b * 3 * H + j;
        if (!step_valid(mask, has_mask, b)) {
            dx[0] = dx[H] = dx[2 * H] = (T)0;
            dr[0] = dr[H] = dr[2 * H] = (T)0;
            continue;  // dh passes through unchanged
        }
        const T* g = gates + b * 3 * H + j;
        T r = g[0], z = g[H], nn = g[2 * H];
        T d = dh[i] + dy[i];
        T d_n = d * (((T)1 - z) * ((T)1 - nn * nn));
        T d_z = d * ((h_prev[i] - nn) * z * ((T)1 - z));
        T d_r = d_n * (hwn[i] * r * ((T)1 - r));
        dx[0] = d_r;
        dx[H] = d_z;
        dx[2 * H] = d_n;
        dr[0] = d_r;
        dr[H] = d_z;
        dr[2 * H] = d_n * r;
        dh[i] = d * z;
    }
}
