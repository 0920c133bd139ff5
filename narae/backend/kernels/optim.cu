// Multi-tensor optimizer updates: one launch updates every parameter of a group.
//
// Tensors are described by tables of device addresses (one int64 per tensor) and a prefix
// sum of their sizes: `offsets[t]` is where tensor t starts in the concatenated index space
// [0, total). Each thread finds its tensor by binary search, then does the element's update.
// Per-tensor step counts live on the device, so a captured CUDA graph replays correct bias
// corrections; hyper-parameters are read from a small device array for the same reason.

__device__ __forceinline__ int narae_find_tensor(const long long* offsets, int n, long long i) {
    int lo = 0, hi = n - 1;          // largest t with offsets[t] <= i
    while (lo < hi) {
        int mid = (lo + hi + 1) >> 1;
        if (offsets[mid] <= i) lo = mid; else hi = mid - 1;
    }
    return lo;
}

// found_inf[0] != 0 (set by GradScaler on the device) skips the whole step, counters included.

// steps[t] += 1 for every tensor of the group (before the update reads it).
extern "C" __global__ void increment_steps(float* steps, int n, const float* found_inf) {
    if (found_inf[0] != 0.0f) return;
    for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < n; t += blockDim.x * gridDim.x)
        steps[t] += 1.0f;
}

// hyper = {lr, beta1, beta2, eps, weight_decay}
extern "C" __global__ void adam_multi(const long long* params, const long long* grads,
                                      const long long* exp_avgs, const long long* exp_avg_sqs,
                                      const long long* max_exp_avg_sqs,
                                      const long long* offsets, int n_tensors, long long total,
                                      const float* steps, const double* hyper, int amsgrad,
                                      int maximize, int decoupled, const float* found_inf) {
    if (found_inf[0] != 0.0f) return;
    const double lr = hyper[0], beta1 = hyper[1], beta2 = hyper[2], eps = hyper[3],
                 weight_decay = hyper[4];
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        int t = narae_find_tensor(offsets, n_tensors, i);
        long long j = i - offsets[t];
        T* p = (T*)params[t];
        T* m = (T*)exp_avgs[t];
        T* v = (T*)exp_avg_sqs[t];
        T g = ((const T*)grads[t])[j];
        if (maximize) g = -g;
        T pj = p[j];
        if (weight_decay != 0.0) {
            if (decoupled) pj *= (T)(1.0 - lr * weight_decay);
            else g += (T)weight_decay * pj;
        }
        T mj = m[j] + (T)(1.0 - beta1) * (g - m[j]);
        T vj = (T)beta2 * v[j] + (T)(1.0 - beta2) * g * g;
        m[j] = mj;
        v[j] = vj;
        double step = (double)steps[t];
        double bias_correction1 = 1.0 - pow(beta1, step);
        double bias_correction2_sqrt = sqrt(1.0 - pow(beta2, step));
        T second = vj;
        if (amsgrad) {
            T* vmax = (T*)max_exp_avg_sqs[t];
            if (vmax[j] > second) second = vmax[j];
            vmax[j] = second;
        }
        T denom = sqrt(second) / (T)bias_correction2_sqrt + (T)eps;
        p[j] = pj - (T)(lr / bias_correction1) * mj / denom;
    }
}

// hyper = {lr, momentum, dampening, weight_decay}; every momentum buffer already exists
// (the first step, where torch sets buf = grad, runs the per-tensor path).
extern "C" __global__ void sgd_multi(const long long* params, const long long* grads,
                                     const long long* bufs, const long long* offsets,
                                     int n_tensors, long long total, const double* hyper,
                                     int nesterov, int maximize, const float* found_inf) {
    if (found_inf[0] != 0.0f) return;
    const double lr = hyper[0], momentum = hyper[1], dampening = hyper[2],
                 weight_decay = hyper[3];
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {
        int t = narae_find_tensor(offsets, n_tensors, i);
        long long j = i - offsets[t];
        T* p = (T*)params[t];
        T g = ((const T*)grads[t])[j];
        if (maximize) g = -g;
        if (weight_decay != 0.0) g += (T)weight_decay * p[j];
        if (momentum != 0.0) {
            T* b = (T*)bufs[t];
            T bj = (T)momentum * b[j] + (T)(1.0 - dampening) * g;
            b[j] = bj;
            g = nesterov ? g + (T)momentum * bj : bj;
        }
        p[j] -= (T)lr * g;
    }
}
