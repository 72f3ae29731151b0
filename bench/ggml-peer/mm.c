// Times ggml's CPU mul_mat (plain ggml context: the vec_dot kernels, no repacked/AMX buffer types) for the same
// shapes as Inkwell.Bench.Kernels. Build: see README in this folder. Usage: mm TYPE ROWS COLS N THREADS
#include "ggml.h"
#include "ggml-cpu.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(int argc, char ** argv) {
    if (argc < 6) { fprintf(stderr, "mm TYPE ROWS COLS N THREADS\n"); return 1; }
    enum ggml_type type = GGML_TYPE_COUNT;
    for (int t = 0; t < GGML_TYPE_COUNT; t++) {
        const char * name = ggml_type_name((enum ggml_type)t);
        if (name && strcasecmp(name, argv[1]) == 0) type = (enum ggml_type)t;
    }
    if (type == GGML_TYPE_COUNT) { fprintf(stderr, "unknown type %s\n", argv[1]); return 1; }
    int rows = atoi(argv[2]), cols = atoi(argv[3]), n = atoi(argv[4]), th = atoi(argv[5]);
    struct ggml_init_params ip = { (size_t)1 << 30, NULL, false };
    struct ggml_context * ctx = ggml_init(ip);
    struct ggml_tensor * w = ggml_new_tensor_2d(ctx, type, cols, rows);
    struct ggml_tensor * x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, cols, n);
    // weights: dequantize-valid data made by quantizing random floats
    float * tmp = malloc(sizeof(float) * (size_t)rows * cols);
    srand(7);
    for (size_t i = 0; i < (size_t)rows * cols; i++) tmp[i] = (rand() / (float)RAND_MAX - 0.5f) * 0.1f;
    if (type == GGML_TYPE_F32) memcpy(w->data, tmp, ggml_nbytes(w));
    else if (type == GGML_TYPE_F16) ggml_fp32_to_fp16_row(tmp, w->data, (int64_t)rows * cols);
    else if (type == GGML_TYPE_BF16) ggml_fp32_to_bf16_row(tmp, w->data, (int64_t)rows * cols);
    else ggml_quantize_chunk(type, tmp, w->data, 0, rows, cols, NULL);
    for (int i = 0; i < cols * n; i++) ((float *)x->data)[i] = rand() / (float)RAND_MAX - 0.5f;
    struct ggml_tensor * y = ggml_mul_mat(ctx, w, x);
    struct ggml_cgraph * gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, y);
    struct ggml_threadpool_params tpp = ggml_threadpool_params_default(th);
    struct ggml_threadpool * tp = ggml_threadpool_new(&tpp);
    struct ggml_cplan plan = ggml_graph_plan(gf, th, tp);
    plan.work_data = malloc(plan.work_size + 64);
    double flop = 2.0 * rows * cols * n;
    int reps = flop > 2e8 ? 3 : (int)(2e8 / flop);
    for (int i = 0; i < reps / 4 + 2; i++) ggml_graph_compute(gf, &plan);
    double best = 1e9, bestc = 1e9;
    for (int k = 0; k < 5; k++) {
        double t0 = now(), c0 = cpu();
        for (int i = 0; i < reps; i++) ggml_graph_compute(gf, &plan);
        double dt = (now() - t0) / reps, dc = (cpu() - c0) / reps / th;
        if (dt < best) best = dt;
        if (dc < bestc) bestc = dc;
    }
    printf("ggml %-6s %5d x %-5d %4d %5d %11.1f %9.1f %11.1f %9.1f\n", argv[1], rows, cols, n, th, best * 1e6, flop / best / 1e9, bestc * 1e6, flop / bestc / 1e9);
    ggml_threadpool_free(tp);
    return 0;
}
