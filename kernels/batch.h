/* Mini-batch assembly from uint8 datasets: gather rows by index (the
 * shuffled order), convert to float, and the per-epoch shuffle itself.
 *
 * Row r of a dataset is src[r*row_len .. (r+1)*row_len). The batch is rows
 * idx[0..b) in that order. All functions are element-wise per row (the gathers
 * run on the team, team.h), so results are bit-identical for any thread count.
 * Return codes: 0 ok, OL_BATCH_EINDEX if some idx[k] is outside [0, n)
 * (nothing written), OL_BATCH_EARG for other bad arguments. */
#ifndef OL_BATCH_H
#define OL_BATCH_H

#include <stdint.h>

#define OL_BATCH_EINDEX 1
#define OL_BATCH_EARG   2

/* Position of the first index outside [0, n), or -1 if all are valid. */
int64_t ol_batch_find_bad_index(const int64_t *idx, int64_t b, int64_t n);

/* dst[k*row_len + j] = (src[idx[k]*row_len + j]/255 - mean)/std, in float.
 * mean=0, std=1 gives exactly (float)x/255.0f (Keras' x.astype('float32')/255).
 * std must be > 0 and finite. */
int ol_batch_images(const uint8_t *restrict src, int64_t n, int64_t row_len,
                    const int64_t *restrict idx, int64_t b,
                    float mean, float std, float *restrict dst);

/* The same gather for float rows (tabular and synthetic data, regression
 * targets): dst[k*row_len + j] = (src[idx[k]*row_len + j] - mean)/std;
 * mean=0, std=1 copies the values exactly. */
int ol_batch_rows_f32(const float *restrict src, int64_t n, int64_t row_len,
                      const int64_t *restrict idx, int64_t b,
                      float mean, float std, float *restrict dst);

/* dst[k] = labels[idx[k]], as int32 or as float (class index 0..255). */
int ol_batch_labels(const uint8_t *restrict labels, int64_t n,
                    const int64_t *restrict idx, int64_t b, int32_t *restrict dst);
int ol_batch_labels_f32(const uint8_t *restrict labels, int64_t n,
                        const int64_t *restrict idx, int64_t b, float *restrict dst);

/* dst[k*nclasses + c] = (labels[idx[k]] == c); OL_BATCH_EARG if a label is
 * >= nclasses (nothing written) or nclasses < 1. */
int ol_batch_onehot(const uint8_t *restrict labels, int64_t n,
                    const int64_t *restrict idx, int64_t b, int nclasses,
                    float *restrict dst);

/* idx[0..n) = a permutation of 0..n-1 that depends only on (seed, epoch):
 * Fisher-Yates driven by Philox4x32 (key seed, counter (epoch, position)),
 * unbiased (rejection sampling). n must be < 2^48. */
void ol_shuffle_indices(uint64_t seed, uint64_t epoch, int64_t n, int64_t *idx);

#endif
