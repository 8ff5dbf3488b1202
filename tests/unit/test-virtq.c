/* The virtqueue walker over a fake guest memory: chains, indirect tables, loops, addresses
 * outside RAM, lying lengths, index games. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/virtqueue.h"

#define MEM_SIZE  (1u << 20)
#define QSIZE	  16u
#define DESC_GPA  0x1000u
#define AVAIL_GPA 0x2000u
#define USED_GPA  0x3000u
#define BUF_GPA	  0x10000u

struct fixture {
	uint8_t *ram;
	struct vmm_memory mem;
	struct virtq vq;
	uint16_t avail_idx;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->ram = calloc(1, MEM_SIZE);
	assert_non_null(f->ram);
	vmm_memory_init_buffer(&f->mem, f->ram, MEM_SIZE);
	f->vq.indirect = true;
	assert_int_equal(virtq_configure(&f->vq, &f->mem, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	free(f->ram);
	free(f);
	return 0;
}

static void put_desc(struct fixture *f, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *d = f->ram + table + 16u * i;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void offer(struct fixture *f, uint16_t head)
{
	memcpy(f->ram + AVAIL_GPA + 4 + 2 * (f->avail_idx % QSIZE), &head, 2);
	f->avail_idx++;
	memcpy(f->ram + AVAIL_GPA + 2, &f->avail_idx, 2);
}

static uint16_t used_idx(struct fixture *f)
{
	uint16_t v;
	memcpy(&v, f->ram + USED_GPA + 2, 2);
	return v;
}

static void test_empty(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	assert_int_equal(virtq_pop(&f->vq, &c), 0);
	assert_false(virtq_has_avail(&f->vq));
}

static void test_chain_read_write_push(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	char out[16];

	memcpy(f->ram + BUF_GPA, "hello ", 6);
	memcpy(f->ram + BUF_GPA + 0x100, "world", 5);
	put_desc(f, DESC_GPA, 3, BUF_GPA, 6, VIRTQ_DESC_F_NEXT, 7);
	put_desc(f, DESC_GPA, 7, BUF_GPA + 0x100, 5, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, DESC_GPA, 1, BUF_GPA + 0x200, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	put_desc(f, DESC_GPA, 2, BUF_GPA + 0x300, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 3);
	assert_true(virtq_has_avail(&f->vq));
	assert_int_equal(virtq_pop(&f->vq, &c), 1);
	assert_int_equal(c.head, 3);
	assert_int_equal(c.n_out, 2);
	assert_int_equal(c.n_in, 2);
	assert_int_equal(c.out_len, 11);
	assert_int_equal(c.in_len, 12);
	memset(out, 0, sizeof(out));
	assert_int_equal(virtq_chain_read(&c, 0, out, sizeof(out)), 11);
	assert_string_equal(out, "hello world");
	assert_int_equal(virtq_chain_read(&c, 4, out, 4), 4);
	assert_memory_equal(out, "o wo", 4);
	assert_int_equal(virtq_chain_write(&c, 0, "0123456789abcdef", 16), 12);
	assert_memory_equal(f->ram + BUF_GPA + 0x200, "0123", 4);
	assert_memory_equal(f->ram + BUF_GPA + 0x300, "456789ab", 8);
	assert_int_equal(virtq_push(&f->vq, c.head, 12), 0);
	assert_int_equal(used_idx(f), 1);
	uint32_t elem[2];
	memcpy(elem, f->ram + USED_GPA + 4, 8);
	assert_int_equal(elem[0], 3);
	assert_int_equal(elem[1], 12);
	assert_true(virtq_should_notify(&f->vq));
	assert_false(virtq_should_notify(&f->vq)); /* nothing new since */
	assert_int_equal(virtq_pop(&f->vq, &c), 0);
}

static void test_no_interrupt_flag(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	uint16_t flags = 1;

	put_desc(f, DESC_GPA, 0, BUF_GPA, 4, 0, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &c), 1);
	memcpy(f->ram + AVAIL_GPA, &flags, 2);
	assert_int_equal(virtq_push(&f->vq, c.head, 0), 0);
	assert_false(virtq_should_notify(&f->vq));
}

static void test_event_idx(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	uint16_t used_event = 1;

	f->vq.event_idx = true;
	memcpy(f->ram + AVAIL_GPA + 4 + 2 * QSIZE, &used_event, 2);
	put_desc(f, DESC_GPA, 0, BUF_GPA, 4, 0, 0);
	for (int i = 0; i < 3; i++)
		offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &c), 1);
	assert_int_equal(virtq_push(&f->vq, 0, 0), 0);
	assert_true(virtq_should_notify(&f->vq)); /* first one always */
	assert_int_equal(virtq_pop(&f->vq, &c), 1);
	assert_int_equal(virtq_push(&f->vq, 0, 0), 0);
	/* used went 1 -> 2; the driver asked for an interrupt after entry 1 was used. */
	assert_true(virtq_should_notify(&f->vq));
	assert_int_equal(virtq_pop(&f->vq, &c), 1);
	assert_int_equal(virtq_push(&f->vq, 0, 0), 0);
	assert_false(virtq_should_notify(&f->vq)); /* 2 -> 3, used_event still 1 */
}

static void test_indirect(void **state)
{
	struct fixture *f = *state;
	struct virtq_chain c;
	const uint64_t table = 0x4000;

	put_desc(f, table, 0, BUF_GPA, 10, VIRTQ_DESC_F_NEXT, 2);
	put_desc(f, table, 2, BUF_GPA + 0x40, 20, VIRTQ_DESC_F_WRITE, 0);
	put_desc(f, DESC_GPA, 5, table, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 5);
	assert_int_equal(virtq_pop(&f->vq, &c), 1);
	assert_int_equal(c.head, 5);
	assert_int_equal(c.n_out, 1);
	assert_int_equal(c.n_in, 1);
	assert_int_equal(c.out_len, 10);
	assert_int_equal(c.in_len, 20);
	assert_ptr_equal(c.iov[1].iov_base, f->ram + BUF_GPA + 0x40);
}

static void expect_broken(struct fixture *f, int err)
{
	struct virtq_chain c;
	assert_int_equal(virtq_pop(&f->vq, &c), err);
	assert_true(f->vq.broken);
	assert_int_equal(virtq_pop(&f->vq, &c), -EIO);
	assert_int_equal(virtq_push(&f->vq, 0, 0), -EIO);
}

static void test_loop(void **state)
{
	struct fixture *f = *state;
	put_desc(f, DESC_GPA, 0, BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, DESC_GPA, 1, BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 0);
	offer(f, 0);
	expect_broken(f, -ELOOP);
}

static void test_self_loop_indirect(void **state)
{
	struct fixture *f = *state;
	const uint64_t table = 0x4000;
	put_desc(f, table, 0, BUF_GPA, 1, VIRTQ_DESC_F_NEXT, 0);
	put_desc(f, DESC_GPA, 0, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, -ELOOP);
}

static void test_nested_indirect(void **state)
{
	struct fixture *f = *state;
	const uint64_t table = 0x4000;
	put_desc(f, table, 0, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
	put_desc(f, DESC_GPA, 0, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, -EINVAL);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fixture *f = *state;
	f->vq.indirect = false;
	put_desc(f, 0x4000, 0, BUF_GPA, 1, 0, 0);
	put_desc(f, DESC_GPA, 0, 0x4000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, -EINVAL);
}

static void test_indirect_bad_len(void **state)
{
	struct fixture *f = *state;
	put_desc(f, DESC_GPA, 0, 0x4000, 17, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, -EINVAL);
}

static void test_indirect_outside(void **state)
{
	struct fixture *f = *state;
	put_desc(f, DESC_GPA, 0, MEM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, -EFAULT);
}

static void test_buffer_outside(void **state)
{
	struct fixture *f = *state;
	put_desc(f, DESC_GPA, 0, MEM_SIZE - 4, 8, 0, 0); /* lying length runs past RAM */
	offer(f, 0);
	expect_broken(f, -EFAULT);
}

static void test_buffer_wraps(void **state)
{
	struct fixture *f = *state;
	put_desc(f, DESC_GPA, 0, UINT64_MAX - 2, 16, 0, 0);
	offer(f, 0);
	expect_broken(f, -EFAULT);
}

static void test_next_out_of_range(void **state)
{
	struct fixture *f = *state;
	put_desc(f, DESC_GPA, 0, BUF_GPA, 1, VIRTQ_DESC_F_NEXT, QSIZE);
	offer(f, 0);
	expect_broken(f, -EINVAL);
}

static void test_head_out_of_range(void **state)
{
	struct fixture *f = *state;
	offer(f, QSIZE + 3);
	expect_broken(f, -EINVAL);
}

static void test_avail_idx_jump(void **state)
{
	struct fixture *f = *state;
	uint16_t idx = QSIZE + 1;
	memcpy(f->ram + AVAIL_GPA + 2, &idx, 2);
	expect_broken(f, -EINVAL);
}

static void test_read_after_write(void **state)
{
	struct fixture *f = *state;
	put_desc(f, DESC_GPA, 0, BUF_GPA, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, DESC_GPA, 1, BUF_GPA, 4, 0, 0);
	offer(f, 0);
	expect_broken(f, -EINVAL);
}

static void test_too_many_segments(void **state)
{
	struct fixture *f = *state;
	const uint64_t table = 0x8000;
	const unsigned n = VIRTQ_CHAIN_MAX_SEGS + 1;
	for (unsigned i = 0; i < n; i++)
		put_desc(f, table, (uint16_t)i, BUF_GPA, 1, i + 1 < n ? VIRTQ_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	put_desc(f, DESC_GPA, 0, table, n * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, -E2BIG);
}

static void test_reset_recovers(void **state)
{
	struct fixture *f = *state;
	offer(f, QSIZE);
	expect_broken(f, -EINVAL);
	virtq_reset(&f->vq);
	assert_false(f->vq.broken);
	assert_int_equal(virtq_configure(&f->vq, &f->mem, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA), 0);
}

static void test_configure_checks(void **state)
{
	struct fixture *f = *state;
	struct virtq vq = {0};
	assert_int_equal(virtq_configure(&vq, &f->mem, 12, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL);
	assert_int_equal(virtq_configure(&vq, &f->mem, 0, DESC_GPA, AVAIL_GPA, USED_GPA), -EINVAL);
	assert_int_equal(virtq_configure(&vq, &f->mem, 16, DESC_GPA + 8, AVAIL_GPA, USED_GPA),
			 -EINVAL);
	assert_int_equal(virtq_configure(&vq, &f->mem, 16, DESC_GPA, AVAIL_GPA + 1, USED_GPA),
			 -EINVAL);
	assert_int_equal(virtq_configure(&vq, &f->mem, 16, DESC_GPA, AVAIL_GPA, MEM_SIZE - 8),
			 -EINVAL);
	assert_int_equal(
	    virtq_configure(&vq, &f->mem, 32768, MEM_SIZE / 2 + 16, AVAIL_GPA, USED_GPA), -EINVAL);
	assert_false(vq.ready);
}

static void test_memory_ptr_bounds(void **state)
{
	struct fixture *f = *state;
	assert_non_null(vmm_memory_ptr(&f->mem, 0, MEM_SIZE));
	assert_non_null(vmm_memory_ptr(&f->mem, MEM_SIZE, 0));
	assert_null(vmm_memory_ptr(&f->mem, MEM_SIZE, 1));
	assert_null(vmm_memory_ptr(&f->mem, 1, MEM_SIZE));
	assert_null(vmm_memory_ptr(&f->mem, UINT64_MAX, 2));
	assert_null(vmm_memory_ptr(&f->mem, 8, UINT64_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_empty),
	    T(test_chain_read_write_push),
	    T(test_no_interrupt_flag),
	    T(test_event_idx),
	    T(test_indirect),
	    T(test_loop),
	    T(test_self_loop_indirect),
	    T(test_nested_indirect),
	    T(test_indirect_not_negotiated),
	    T(test_indirect_bad_len),
	    T(test_indirect_outside),
	    T(test_buffer_outside),
	    T(test_buffer_wraps),
	    T(test_next_out_of_range),
	    T(test_head_out_of_range),
	    T(test_avail_idx_jump),
	    T(test_read_after_write),
	    T(test_too_many_segments),
	    T(test_reset_recovers),
	    T(test_configure_checks),
	    T(test_memory_ptr_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
