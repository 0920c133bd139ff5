// Counter-based random numbers on the device, for dropout masks inside captured CUDA graphs.
//
// Element i of a draw gets the 64-bit hash of (seed, offset + i); the offset lives in device
// memory and is advanced by a second launch, so each replay of a graph draws fresh numbers
// while the seed (a kernel argument frozen at capture) stays fixed. The mixer is SplitMix64's
// finaliser; 24 high bits make a uniform float in [0, 1).

__device__ __forceinline__ unsigned long long narae_mix64(unsigned long long z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// out[i] = 1 with probability 1 - p, else 0 (in T)
extern "C" __global__ void keep_mask(T* out, long long n, unsigned long long seed,
                                     const long long* offset, double p) {
    const unsigned long long base = (unsigned long long)offset[0];
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        unsigned long long h = narae_mix64(seed + 0x9E3779B97F4A7C15ULL *
                                           (base + (unsigned long long)i + 1ULL));
        double u = (double)(h >> 40) * (1.0 / 16777216.0);
        out[i] = u >= p ? (T)1 : (T)0;
    }
}

// offset[0] += n (one thread), after the draw that read it
extern "C" __global__ void advance_offset(long long* offset, long long n) {
    if (blockIdx.x == 0 && threadIdx.x == 0) offset[0] += n;
}
