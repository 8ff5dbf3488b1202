/* virtio-nsm driver: one request queue; a request is one device-readable buffer (<= 4 KiB)
 * and one device-writable buffer of 12 KiB, answered synchronously. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "guest/virtio.h"

#define NSM_REQUEST_MAX	 0x1000
#define NSM_RESPONSE_MAX 0x3000

int nsm_init(struct vio_dev *dev);
/* Submit `req` and wait for the answer. On success *resp points at the driver's response
 * buffer (valid until the next call) and *resp_len is the device's used length.
 * -ENODEV without a device, -EMSGSIZE for an oversized request, -EIO if the device broke. */
int nsm_call(const uint8_t *req, size_t req_len, const uint8_t **resp, size_t *resp_len);
