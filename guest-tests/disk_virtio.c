// SPDX-License-Identifier: Apache-2.0
/* A disk on virtqueues: see disk_virtio.h. */
#include "disk_virtio.h"
#include "console.h"
#include "cpu.h"

_Static_assert(VIRTIO_MAX_QUEUES <= DISK_MAX_QUEUES, "a disk queue for every virtqueue");

static struct virtq *disk_vq(struct disk *d, unsigned q)
{
	struct disk_virtio *dv = d->priv;

	return dv->vq[q];
}

static bool req_init(struct disk *d, struct disk_req *r)
{
	struct disk_virtio *dv = d->priv;
	struct vq_req *vr = vq_req_alloc(dv->drv->req_size);

	if (vr)
		disk_virtio_req(r, vr);
	return vr != NULL;
}

static void kick(struct disk *d, unsigned q)
{
	vq_kick(disk_vq(d, q));
}

static int wait(struct disk *d, unsigned q, u64 timeout_us)
{
	return vq_wait(disk_vq(d, q), timeout_us);
}

static void counters(struct disk *d, unsigned q, u64 *kicks, u64 *skipped, u64 *irqs)
{
	struct virtq *vq = disk_vq(d, q);

	*kicks = vq->kicks;
	*skipped = vq->kicks_skipped;
	*irqs = vq_irqs(vq);
}

int disk_virtio_open(struct disk *d, struct disk_virtio *dv, const struct disk_virtio_drv *drv,
		     unsigned depth, char *why, size_t whylen)
{
	unsigned nq, size = VIRTQ_MAX_SIZE, per_req;
	int r = drv->probe(why, whylen);

	dv->drv = drv;
	virtio_opts_cmdline(&dv->o, drv->wait_key);
	if (r <= 0)
		return r;
	user_irqs(true);
	if (!drv->start(&dv->o, why, whylen))
		return -1;
	nq = *drv->nq;
	for (unsigned i = 0; i < nq; i++) {
		dv->vq[i] = &drv->dev->vq[drv->q0 + i];
		size = MIN(size, dv->vq[i]->size);
	}
	/* header, data, status; the header shares the data's with layout=merged */
	per_req = dv->o.merged ? 2 : 3;
	dv->indirect = depth * per_req > size;
	if (dv->indirect && !virtio_has(drv->dev, VIRTIO_F_INDIRECT_DESC)) {
		snprintf(why, whylen, "%u requests of %u descriptors do not fit a queue of %u, "
			 "and INDIRECT_DESC is %s", depth, per_req, size,
			 dv->o.indirect ? "not offered" : "off (indirect=0)");
		return -1;
	}
	if (dv->indirect && depth > size) {
		snprintf(why, whylen, "%u requests in flight do not fit a queue of %u", depth, size);
		return -1;
	}
	dv->ops = drv->ops;
	dv->ops.req_init = req_init;
	dv->ops.kick = kick;
	dv->ops.wait = wait;
	dv->ops.counters = counters;
	d->ops = &dv->ops;
	d->nqueues = MIN(nq, (unsigned)DISK_MAX_QUEUES);
	for (unsigned i = 0; i < d->nqueues; i++)
		d->cpu[i] = dv->vq[i]->cpu;
	d->irq = dv->o.irq;
	d->priv = dv;
	return drv->learn(d, why, whylen) ? 1 : -1;
}

void disk_virtio_req(struct disk_req *r, struct vq_req *vr)
{
	vr->ctx = r;
	r->drv = vr;
}

struct disk_req *disk_virtio_used(struct disk *d, unsigned q)
{
	void *token;
	u32 len;
	u16 head;

	while (vq_get_used(disk_vq(d, q), &token, &len, &head)) {
		struct vq_req *vr = token;

		if (!vr)
			continue;	/* names no request of ours: counted in bad_used */
		vr->used_len = len;
		return vr->ctx;
	}
	return NULL;
}

void disk_virtio_describe(struct disk *d, const char *prefix)
{
	struct disk_virtio *dv = d->priv;

	printf("%s%s, requests %s, %s layout\n", prefix,
	       dv->o.irq ? "completions by MSI-X interrupt" : "completions polled",
	       dv->indirect ? "through indirect tables" : "as direct descriptor chains",
	       dv->o.merged ? "merged" : "split");
}
