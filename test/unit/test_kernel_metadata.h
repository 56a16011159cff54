/* Halide metadata for the hand-written test models (test_model.c,
 * test_train_model.c, test_session_model.c): what Halide's AOT compiler
 * emits next to each pipeline, the `_metadata` function the runtime checks
 * every kernel call against. KERNEL_METADATA(k, IN(rank)..., OUT(rank))
 * defines k_metadata() for kernel k, whose arguments are float32 buffers of
 * the given kinds and ranks, in call order. */
#ifndef CNNC_TEST_UNIT_TEST_KERNEL_METADATA_H
#define CNNC_TEST_UNIT_TEST_KERNEL_METADATA_H

#include <HalideRuntime.h>

#define ARGUMENT(argument_kind, rank)                                                              \
  {                                                                                                \
    .name = "arg", .kind = argument_kind, .dimensions = rank, .type = { halide_type_float, 32, 1 } \
  }
#define IN(rank) ARGUMENT(halide_argument_kind_input_buffer, rank)
#define OUT(rank) ARGUMENT(halide_argument_kind_output_buffer, rank)
#define KERNEL_METADATA(kernel, ...)                                                               \
  static const struct halide_filter_argument_t kernel##_arguments[] = {__VA_ARGS__};               \
  static const struct halide_filter_metadata_t kernel##_meta = {                                   \
      1, sizeof(kernel##_arguments) / sizeof(kernel##_arguments[0]), kernel##_arguments, "test-c", \
      #kernel};                                                                                    \
  static const struct halide_filter_metadata_t *kernel##_metadata(void) { return &kernel##_meta; }

#endif
