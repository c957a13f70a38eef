// Native baseline for KernelBench's launch figures: the same measurements from C++, calling
// cuLaunchKernel directly (no Java, no FFM). Built and run on the GPU host by
//   bash .carry/bin/device-run.sh nvcc:.carry/bin/launch_baseline.cu
#include <cuda.h>
#include <cuda_runtime.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

extern "C" __global__ void empty(int* unused, int unused_size) {}

#define CHECK(call) do { int rc_ = (int) (call); if (rc_) { std::printf("%s failed: %d\n", #call, rc_); return 1; } } while (0)

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

static double now_us() {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main() {
    const int many = 2000, few = 100, repeats = 20, warmup = 3;
    CHECK(cudaFree(0));
    cudaFunction_t fn;
    CHECK(cudaGetFuncBySymbol(&fn, (const void*) empty));
    CUstream stream;
    CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    CUdeviceptr buf;
    CHECK(cuMemAlloc(&buf, 4));
    int size = 1;
    void* params[] = {&buf, &size};
    auto launch = [&](int n) -> int {
        for (int i = 0; i < n; i++) {
            int rc = cuLaunchKernel((CUfunction) fn, 1, 1, 1, 32, 1, 1, 0, stream, params, nullptr);
            if (rc) return rc;
        }
        return 0;
    };
    std::vector<double> enqueueFew, enqueueMany, wallMany, graphUs;
    for (int r = -warmup; r < repeats; r++) {
        CHECK(cuStreamSynchronize(stream));
        double t0 = now_us();
        CHECK(launch(few));
        double t1 = now_us();
        CHECK(cuStreamSynchronize(stream));
        double t2 = now_us();
        CHECK(launch(many));
        double t3 = now_us();
        CHECK(cuStreamSynchronize(stream));
        double t4 = now_us();
        if (r >= 0) {
            enqueueFew.push_back((t1 - t0) / few);
            enqueueMany.push_back((t3 - t2) / many);
            wallMany.push_back((t4 - t2) / many);
        }
    }
    CUgraph graph;
    CUgraphExec exec;
    CHECK(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    CHECK(launch(many));
    CHECK(cuStreamEndCapture(stream, &graph));
    CHECK(cuGraphInstantiate(&exec, graph, 0));
    CUevent start, end;
    CHECK(cuEventCreate(&start, 0));
    CHECK(cuEventCreate(&end, 0));
    for (int r = -warmup; r < repeats; r++) {
        CHECK(cuEventRecord(start, stream));
        CHECK(cuGraphLaunch(exec, stream));
        CHECK(cuEventRecord(end, stream));
        CHECK(cuEventSynchronize(end));
        float ms;
        CHECK(cuEventElapsedTime(&ms, start, end));
        if (r >= 0) graphUs.push_back(ms * 1000.0 / many);
    }
    std::printf("native C++ baseline: enqueue %.2f us/launch (%d launches), enqueue %.2f us/launch (%d), wall incl. sync %.2f us/launch, graph %.2f us/kernel\n",
                median(enqueueFew), few, median(enqueueMany), many, median(wallMany), median(graphUs));
    std::printf("{\"native_enqueue_us_per_launch_%d\": %.3f, \"native_enqueue_us_per_launch_%d\": %.3f, \"native_wall_us_per_launch\": %.3f, \"native_graph_us_per_kernel\": %.3f}\n",
                few, median(enqueueFew), many, median(enqueueMany), median(wallMany), median(graphUs));
    return 0;
}
