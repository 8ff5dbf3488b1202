#include "config.h"

#include "vmm/serial.h"

#include "common/log.h"
#include "vmm/event.h"
#include "vmm/kvm.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define UART_RX	 0 /* RBR / THR / DLL */
#define UART_IER 1 /* IER / DLM */
#define UART_IIR 2 /* IIR (read) / FCR (write) */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_THRI    0x02
#define IIR_NO_INT  0x01
#define IIR_THRI    0x02
#define IIR_FIFO    0xc0
#define LCR_DLAB    0x80
#define MCR_LOOP    0x10
#define LSR_THRE    0x20
#define LSR_TEMT    0x40
#define MSR_DEFAULT 0xb0 /* DCD, DSR, CTS */
#define FCR_ENABLE  0x01

struct vmm_serial {
	struct vmm *vmm;
	vmm_console_sink_fn sink;
	void *opaque;
	int wake_fd;
	pthread_mutex_t lock;
	/* Registers, guarded by lock (any vCPU may touch them). */
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thri_pending;
	/* Output ring, guarded by lock. */
	uint8_t buf[SERIAL_BUF_SIZE];
	size_t head, len;
	uint64_t dropped;
};

static void serial_drain(int fd, uint32_t events, void *opaque)
{
	struct vmm_serial *s = opaque;
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
	vmm_serial_flush(s);
}

int vmm_serial_new(struct vmm *vmm, vmm_console_sink_fn sink, void *opaque, struct vmm_serial **out)
{
	struct vmm_serial *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->vmm = vmm;
	s->sink = sink;
	s->opaque = opaque;
	pthread_mutex_init(&s->lock, NULL);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0) {
		r = -errno;
		vmm_serial_free(s);
		return r;
	}
	r = vmm_event_add_fd(vmm->loop, s->wake_fd, EPOLLIN, serial_drain, s);
	if (r < 0) {
		vmm_serial_free(s);
		return r;
	}
	*out = s;
	return 0;
}

void vmm_serial_free(struct vmm_serial *s)
{
	if (!s)
		return;
	if (s->wake_fd >= 0) {
		(void)vmm_event_del_fd(s->vmm->loop, s->wake_fd);
		close(s->wake_fd);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void vmm_serial_flush(struct vmm_serial *s)
{
	uint8_t chunk[4096];
	size_t n;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		n = s->len < sizeof(chunk) ? s->len : sizeof(chunk);
		for (size_t i = 0; i < n; i++)
			chunk[i] = s->buf[(s->head + i) % SERIAL_BUF_SIZE];
		s->head = (s->head + n) % SERIAL_BUF_SIZE;
		s->len -= n;
		pthread_mutex_unlock(&s->lock);
		if (n == 0)
			break;
		if (s->sink)
			s->sink(s->opaque, chunk, n);
	}
}

uint64_t vmm_serial_dropped(const struct vmm_serial *s)
{
	return s->dropped;
}

/* Called with lock held. Returns whether the event thread must be woken. */
static bool put_byte(struct vmm_serial *s, uint8_t c)
{
	if (s->len == SERIAL_BUF_SIZE) {
		s->dropped++;
		return false;
	}
	s->buf[(s->head + s->len) % SERIAL_BUF_SIZE] = c;
	s->len++;
	/* The event thread drains everything it finds, so a wake-up is only needed when the
	 * ring goes from empty to non-empty. */
	return s->len == 1;
}

bool vmm_serial_io(struct vmm_serial *s, uint16_t port, uint8_t *data, bool is_write)
{
	bool wake = false, irq = false;
	uint16_t reg;

	if (port < SERIAL_COM1_BASE || port > SERIAL_COM1_BASE + 7)
		return false;
	reg = port - SERIAL_COM1_BASE;
	pthread_mutex_lock(&s->lock);
	if (is_write) {
		uint8_t v = *data;
		switch (reg) {
		case UART_RX:
			if (s->lcr & LCR_DLAB) {
				s->dll = v;
			} else if (s->mcr & MCR_LOOP) {
				/* Loopback: nothing leaves the UART. */
			} else {
				wake = put_byte(s, v);
				if (s->ier & IER_THRI) {
					s->thri_pending = true;
					irq = true;
				}
			}
			break;
		case UART_IER:
			if (s->lcr & LCR_DLAB) {
				s->dlm = v;
			} else {
				/* Enabling THRI with an empty transmitter raises it at once. */
				if ((v & IER_THRI) && !(s->ier & IER_THRI)) {
					s->thri_pending = true;
					irq = true;
				}
				s->ier = v & 0x0f;
			}
			break;
		case UART_IIR:
			s->fcr = v;
			break;
		case UART_LCR:
			s->lcr = v;
			break;
		case UART_MCR:
			s->mcr = v & 0x1f;
			break;
		case UART_SCR:
			s->scr = v;
			break;
		default:
			break;
		}
	} else {
		uint8_t v = 0;
		switch (reg) {
		case UART_RX:
			v = (s->lcr & LCR_DLAB) ? s->dll : 0;
			break;
		case UART_IER:
			v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
			break;
		case UART_IIR:
			v = (s->fcr & FCR_ENABLE) ? IIR_FIFO : 0;
			if (s->thri_pending && (s->ier & IER_THRI)) {
				v |= IIR_THRI;
				s->thri_pending = false; /* reading IIR clears THRE */
			} else {
				v |= IIR_NO_INT;
			}
			break;
		case UART_LCR:
			v = s->lcr;
			break;
		case UART_MCR:
			v = s->mcr;
			break;
		case UART_LSR:
			v = LSR_THRE | LSR_TEMT;
			break;
		case UART_MSR:
			if (s->mcr & MCR_LOOP) /* RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD */
				v = (uint8_t)(((s->mcr & 0x02) << 3) | ((s->mcr & 0x01) << 5) |
					      ((s->mcr & 0x04) << 4) | ((s->mcr & 0x08) << 4));
			else
				v = MSR_DEFAULT;
			break;
		case UART_SCR:
			v = s->scr;
			break;
		}
		*data = v;
	}
	pthread_mutex_unlock(&s->lock);
	if (wake) {
		uint64_t one = 1;
		(void)!write(s->wake_fd, &one, sizeof(one));
	}
	if (irq && s->vmm->kvm)
		(void)vmm_kvm_irq_pulse(s->vmm->kvm, SERIAL_COM1_IRQ);
	return true;
}
