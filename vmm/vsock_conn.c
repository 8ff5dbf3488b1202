#include "config.h"

#include "vmm/vsock_conn.h"

#include "vmm/vsock_packet.h"

#include "common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static uint32_t conn_hash(const struct vsock_conn_table *table, uint32_t host_port,
			  uint32_t guest_port)
{
	uint64_t x = ((uint64_t)host_port << 32 | guest_port) ^ table->seed;

	/* splitmix64 finaliser: with a secret seed a guest cannot aim at one bucket. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (uint32_t)x & (table->nbuckets - 1);
}

int vsock_conn_table_init(struct vsock_conn_table *table, uint32_t max_conns)
{
	uint32_t n = 16;

	if (max_conns == 0 || max_conns > (1u << 20))
		return -EINVAL;
	while (n < max_conns * 2)
		n <<= 1;
	memset(table, 0, sizeof(*table));
	table->buckets = calloc(n, sizeof(*table->buckets));
	if (!table->buckets)
		return -ENOMEM;
	table->nbuckets = n;
	table->max = max_conns;
	if (getrandom(&table->seed, sizeof(table->seed), 0) != sizeof(table->seed))
		table->seed = util_now_monotonic_ns() * 0x9e3779b97f4a7c15ULL;
	return 0;
}

void vsock_conn_table_destroy(struct vsock_conn_table *table)
{
	while (table->all)
		vsock_conn_remove(table, table->all);
	free(table->buckets);
	table->buckets = NULL;
}

struct vsock_conn *vsock_conn_lookup(const struct vsock_conn_table *table, uint32_t host_port,
				     uint32_t guest_port)
{
	struct vsock_conn *c = table->buckets[conn_hash(table, host_port, guest_port)];

	while (c && (c->host_port != host_port || c->guest_port != guest_port))
		c = c->hash_next;
	return c;
}

int vsock_conn_add(struct vsock_conn_table *table, uint32_t host_port, uint32_t guest_port,
		   uint64_t host_cid, uint32_t buf_alloc, struct vsock_conn **out)
{
	struct vsock_conn *c;
	uint32_t h;

	if (vsock_conn_lookup(table, host_port, guest_port))
		return -EEXIST;
	if (table->count >= table->max)
		return -EMFILE;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->host_port = host_port;
	c->guest_port = guest_port;
	c->host_cid = host_cid;
	c->fd = -1;
	c->buf_alloc = buf_alloc;
	h = conn_hash(table, host_port, guest_port);
	c->hash_next = table->buckets[h];
	table->buckets[h] = c;
	c->all_next = table->all;
	if (table->all)
		table->all->all_prev = c;
	table->all = c;
	table->count++;
	*out = c;
	return 0;
}

void vsock_conn_remove(struct vsock_conn_table *table, struct vsock_conn *conn)
{
	struct vsock_conn **pp =
	    &table->buckets[conn_hash(table, conn->host_port, conn->guest_port)];

	while (*pp && *pp != conn)
		pp = &(*pp)->hash_next;
	if (*pp)
		*pp = conn->hash_next;
	if (conn->all_prev)
		conn->all_prev->all_next = conn->all_next;
	else
		table->all = conn->all_next;
	if (conn->all_next)
		conn->all_next->all_prev = conn->all_prev;
	table->count--;
	free(conn->buf);
	free(conn);
}

uint32_t vsock_conn_peer_free(const struct vsock_conn *conn)
{
	uint32_t in_flight = conn->tx_cnt - conn->peer_fwd_cnt;

	if (in_flight > conn->peer_buf_alloc)
		return 0;
	return conn->peer_buf_alloc - in_flight;
}

void vsock_conn_update_peer_credit(struct vsock_conn *conn, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	conn->peer_buf_alloc = buf_alloc;
	conn->peer_fwd_cnt = fwd_cnt;
	if (vsock_conn_peer_free(conn) > 0)
		conn->credit_requested = false;
}

bool vsock_conn_guest_may_send(const struct vsock_conn *conn, uint32_t len)
{
	/* Occupancy is rx_cnt - fwd_cnt == buf_used; compare without overflow. */
	return len <= conn->buf_alloc - conn->buf_used;
}

bool vsock_conn_credit_update_due(const struct vsock_conn *conn)
{
	uint32_t seen_used = conn->rx_cnt - conn->fwd_cnt_sent;

	if (conn->fwd_cnt == conn->fwd_cnt_sent)
		return false;
	/* The guest thinks less than half the buffer is free: tell it what we forwarded. */
	return seen_used > conn->buf_alloc / 2;
}

int vsock_conn_buf_append(struct vsock_conn *conn, const struct iovec *iov, size_t iovcnt,
			  size_t off, size_t len)
{
	uint32_t tail, first;

	if (len == 0)
		return 0;
	if (len > conn->buf_alloc - conn->buf_used)
		return -ENOBUFS;
	if (!conn->buf) {
		conn->buf = malloc(conn->buf_alloc);
		if (!conn->buf)
			return -ENOMEM;
		conn->buf_head = 0;
	}
	tail = (conn->buf_head + conn->buf_used) % conn->buf_alloc;
	first = UTIL_MIN((uint32_t)len, conn->buf_alloc - tail);
	vsock_iov_read(iov, iovcnt, off, conn->buf + tail, first);
	if (first < len)
		vsock_iov_read(iov, iovcnt, off + first, conn->buf, len - first);
	conn->buf_used += (uint32_t)len;
	return 0;
}

size_t vsock_conn_buf_peek(const struct vsock_conn *conn, struct iovec out[2])
{
	uint32_t first;

	if (conn->buf_used == 0)
		return 0;
	first = UTIL_MIN(conn->buf_used, conn->buf_alloc - conn->buf_head);
	out[0].iov_base = conn->buf + conn->buf_head;
	out[0].iov_len = first;
	if (first == conn->buf_used)
		return 1;
	out[1].iov_base = conn->buf;
	out[1].iov_len = conn->buf_used - first;
	return 2;
}

void vsock_conn_buf_consume(struct vsock_conn *conn, size_t len)
{
	if (len > conn->buf_used)
		len = conn->buf_used;
	conn->buf_head = (uint32_t)((conn->buf_head + len) % conn->buf_alloc);
	conn->buf_used -= (uint32_t)len;
	if (conn->buf_used == 0)
		conn->buf_head = 0;
}
