/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include "vu/codec.h"

void vu_caps_defaults(struct vu_caps *c)
{
	/* vfio-user.rst "Version": defaults for absent keys. */
	memset(c, 0, sizeof(*c));
	c->max_msg_fds = 1;
	c->max_data_xfer_size = 1048576;
	c->pgsizes = 4096;
	c->max_dma_maps = 65535;
}

static const char *const cmd_names[VU_CMD_MAX] = {
    [VU_CMD_VERSION] = "VERSION",
    [VU_CMD_DMA_MAP] = "DMA_MAP",
    [VU_CMD_DMA_UNMAP] = "DMA_UNMAP",
    [VU_CMD_DEVICE_GET_INFO] = "DEVICE_GET_INFO",
    [VU_CMD_DEVICE_GET_REGION_INFO] = "DEVICE_GET_REGION_INFO",
    [VU_CMD_DEVICE_GET_REGION_IO_FDS] = "DEVICE_GET_REGION_IO_FDS",
    [VU_CMD_DEVICE_GET_IRQ_INFO] = "DEVICE_GET_IRQ_INFO",
    [VU_CMD_DEVICE_SET_IRQS] = "DEVICE_SET_IRQS",
    [VU_CMD_REGION_READ] = "REGION_READ",
    [VU_CMD_REGION_WRITE] = "REGION_WRITE",
    [VU_CMD_DMA_READ] = "DMA_READ",
    [VU_CMD_DMA_WRITE] = "DMA_WRITE",
    [VU_CMD_DEVICE_RESET] = "DEVICE_RESET",
    [VU_CMD_DIRTY_PAGES] = "DIRTY_PAGES",
    [VU_CMD_REGION_WRITE_MULTI] = "REGION_WRITE_MULTI",
    [VU_CMD_DEVICE_FEATURE] = "DEVICE_FEATURE",
    [VU_CMD_MIG_DATA_READ] = "MIG_DATA_READ",
    [VU_CMD_MIG_DATA_WRITE] = "MIG_DATA_WRITE",
};

const char *vu_cmd_name(uint16_t cmd)
{
	if (cmd < VU_CMD_MAX && cmd_names[cmd])
		return cmd_names[cmd];
	return "UNKNOWN";
}

int vu_hdr_check_request(const struct vu_hdr *h, size_t max_size)
{
	if (h->size < sizeof(*h) || h->size > max_size)
		return -EMSGSIZE;
	if ((h->flags & VU_F_TYPE_MASK) != VU_F_TYPE_CMD)
		return -EINVAL;
	if (h->flags & ~(VU_F_TYPE_MASK | VU_F_NO_REPLY))
		return -EINVAL;
	return 0;
}

int vu_hdr_check_reply(const struct vu_hdr *h, uint16_t id, size_t max_size, int *peer_errno)
{
	*peer_errno = 0;
	if (h->size < sizeof(*h) || h->size > max_size)
		return -EMSGSIZE;
	if ((h->flags & VU_F_TYPE_MASK) != VU_F_TYPE_REPLY || h->id != id)
		return -EPROTO;
	if (h->flags & VU_F_ERROR)
		*peer_errno = h->error ? (int)h->error : EIO;
	return 0;
}

/* Read an integer capability; -EINVAL if present with the wrong type or range. */
static int cap_u64(struct json_object *caps, const char *key, uint64_t min, uint64_t max,
		   uint64_t *out)
{
	struct json_object *v;
	uint64_t u;

	if (!json_object_object_get_ex(caps, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
		return -EINVAL;
	u = json_object_get_uint64(v); /* json-c keeps values above INT64_MAX as uint64 */
	if (u < min || u > max)
		return -EINVAL;
	*out = u;
	return 0;
}

static int caps_parse(struct json_object *root, struct vu_caps *caps)
{
	struct json_object *c, *v;
	uint64_t u;
	int ret;

	if (!json_object_is_type(root, json_type_object))
		return -EINVAL;
	if (!json_object_object_get_ex(root, "capabilities", &c))
		return 0;
	if (!json_object_is_type(c, json_type_object))
		return -EINVAL;

	u = caps->max_msg_fds;
	if ((ret = cap_u64(c, "max_msg_fds", 0, 1024, &u)))
		return ret;
	caps->max_msg_fds = (uint32_t)u;
	if ((ret = cap_u64(c, "max_data_xfer_size", 1, UINT64_MAX, &caps->max_data_xfer_size)))
		return ret;
	if ((ret = cap_u64(c, "pgsizes", 1, UINT64_MAX, &caps->pgsizes)))
		return ret;
	u = caps->max_dma_maps;
	if ((ret = cap_u64(c, "max_dma_maps", 0, UINT32_MAX, &u)))
		return ret;
	caps->max_dma_maps = (uint32_t)u;

	if (json_object_object_get_ex(c, "migration", &v)) {
		if (!json_object_is_type(v, json_type_object))
			return -EINVAL;
		caps->migration = true;
	}
	if (json_object_object_get_ex(c, "write_multiple", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return -EINVAL;
		caps->write_multiple = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(c, "twin_socket", &v)) {
		struct json_object *s;
		if (!json_object_is_type(v, json_type_object))
			return -EINVAL;
		if (json_object_object_get_ex(v, "supported", &s)) {
			if (!json_object_is_type(s, json_type_boolean))
				return -EINVAL;
			caps->twin_socket = json_object_get_boolean(s);
		}
	}
	return 0;
}

int vu_version_decode(const void *p, size_t len, uint16_t *major, uint16_t *minor,
		      struct vu_caps *caps)
{
	const struct vu_version *v = p;
	const char *json = (const char *)p + sizeof(*v);
	size_t jlen;
	struct json_tokener *tok;
	struct json_object *root;
	int ret;

	vu_caps_defaults(caps);
	if (len < sizeof(*v))
		return -EINVAL;
	*major = v->major;
	*minor = v->minor;
	jlen = len - sizeof(*v);
	if (jlen == 0)
		return 0;
	if (jlen > VU_MAX_VERSION_JSON)
		return -E2BIG;
	/* Must be NUL-terminated within the payload, and nothing after the NUL. */
	if (json[jlen - 1] != '\0' || strlen(json) != jlen - 1)
		return -EINVAL;
	if (jlen == 1)
		return 0;
	tok = json_tokener_new_ex(16);
	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, json, (int)(jlen - 1));
	if (!root || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != jlen - 1)
		ret = -EINVAL;
	else
		ret = caps_parse(root, caps);
	json_object_put(root);
	json_tokener_free(tok);
	return ret;
}

int vu_version_encode(void *buf, size_t len, uint16_t major, uint16_t minor,
		      const struct vu_caps *caps, bool client)
{
	struct vu_version *v = buf;
	struct json_object *root = json_object_new_object();
	struct json_object *c = json_object_new_object();
	const char *s;
	size_t slen;
	int ret;

	if (!root || !c) {
		json_object_put(root);
		json_object_put(c);
		return -ENOMEM;
	}
	/* Key names: vfio-user.rst "Version" capability table. Keep it short:
	 * QEMU reads the reply into a buffer of about 214 bytes. */
	json_object_object_add(c, "max_msg_fds", json_object_new_int64(caps->max_msg_fds));
	json_object_object_add(c, "max_data_xfer_size",
			       json_object_new_int64((int64_t)caps->max_data_xfer_size));
	json_object_object_add(c, "pgsizes", json_object_new_int64((int64_t)caps->pgsizes));
	json_object_object_add(c, "max_dma_maps", json_object_new_int64(caps->max_dma_maps));
	if (client && caps->write_multiple)
		json_object_object_add(c, "write_multiple", json_object_new_boolean(1));
	json_object_object_add(root, "capabilities", c);
	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	slen = strlen(s) + 1;
	if (len < sizeof(*v) + slen) {
		ret = -ENOSPC;
	} else {
		v->major = major;
		v->minor = minor;
		memcpy((char *)buf + sizeof(*v), s, slen);
		ret = (int)(sizeof(*v) + slen);
	}
	json_object_put(root);
	return ret;
}

/*
 * Structures whose argsz says how much the peer sent: argsz must cover the
 * structure and must not exceed what arrived.
 */
static int decode_sent(const void *p, size_t len, void *out, size_t size)
{
	uint32_t argsz;

	if (len < size)
		return -EINVAL;
	memcpy(out, p, size);
	memcpy(&argsz, p, sizeof(argsz));
	if (argsz < size || argsz > len)
		return -EINVAL;
	return 0;
}

/* Structures whose argsz is the room the peer has for the reply. */
static int decode_room(const void *p, size_t len, void *out, size_t size)
{
	uint32_t argsz;

	if (len < size)
		return -EINVAL;
	memcpy(out, p, size);
	memcpy(&argsz, p, sizeof(argsz));
	if (argsz < size)
		return -EINVAL;
	return 0;
}

int vu_dma_map_decode(const void *p, size_t len, struct vu_dma_map *out)
{
	int ret = decode_sent(p, len, out, sizeof(*out));

	if (ret)
		return ret;
	if (out->flags & ~(VU_DMA_MAP_F_READ | VU_DMA_MAP_F_WRITE))
		return -EINVAL;
	if (out->size == 0 || out->addr > UINT64_MAX - out->size)
		return -EINVAL;
	return 0;
}

int vu_dma_unmap_decode(const void *p, size_t len, struct vu_dma_unmap *out)
{
	int ret = decode_room(p, len, out, sizeof(*out));

	if (ret)
		return ret;
	if (out->flags & VU_DMA_UNMAP_F_GET_DIRTY_BITMAP)
		return -ENOTSUP; /* no migration, no dirty tracking */
	if (out->flags & ~VU_DMA_UNMAP_F_ALL)
		return -EINVAL;
	if (out->flags & VU_DMA_UNMAP_F_ALL) {
		if (out->addr || out->size)
			return -EINVAL;
	} else if (out->size == 0 || out->addr > UINT64_MAX - out->size) {
		return -EINVAL;
	}
	return 0;
}

int vu_device_info_decode(const void *p, size_t len, struct vu_device_info *out)
{
	return decode_room(p, len, out, sizeof(*out));
}

int vu_region_info_decode(const void *p, size_t len, struct vu_region_info *out)
{
	return decode_room(p, len, out, sizeof(*out));
}

int vu_irq_info_decode(const void *p, size_t len, struct vu_irq_info *out)
{
	return decode_room(p, len, out, sizeof(*out));
}

static bool one_bit(uint32_t x)
{
	return x && !(x & (x - 1));
}

int vu_irq_set_decode(const void *p, size_t len, unsigned nfds, struct vu_irq_set *out,
		      const uint8_t **bools)
{
	uint32_t data, action;
	int ret = decode_sent(p, len, out, sizeof(*out));

	*bools = NULL;
	if (ret)
		return ret;
	data = out->flags & VU_IRQ_SET_DATA_MASK;
	action = out->flags & VU_IRQ_SET_ACTION_MASK_ALL;
	if (out->flags & ~(VU_IRQ_SET_DATA_MASK | VU_IRQ_SET_ACTION_MASK_ALL))
		return -EINVAL;
	if (!one_bit(data) || !one_bit(action))
		return -EINVAL;
	if (out->count > VU_MAX_IRQS_PER_TYPE || out->start > VU_MAX_IRQS_PER_TYPE)
		return -EINVAL;
	switch (data) {
	case VU_IRQ_SET_DATA_NONE:
		if (out->argsz != sizeof(*out) || nfds)
			return -EINVAL;
		break;
	case VU_IRQ_SET_DATA_BOOL:
		if (out->argsz != sizeof(*out) + out->count || nfds)
			return -EINVAL;
		*bools = (const uint8_t *)p + sizeof(*out);
		break;
	case VU_IRQ_SET_DATA_EVENTFD:
		/* No fds at all de-assigns (vfio-user.rst "SET_IRQS"). */
		if (out->argsz != sizeof(*out) || (nfds && nfds != out->count))
			return -EINVAL;
		break;
	}
	return 0;
}

int vu_region_rw_decode(const void *p, size_t len, bool is_write, uint32_t max_xfer,
			struct vu_region_rw *out, const void **data)
{
	*data = NULL;
	if (len < sizeof(*out))
		return -EINVAL;
	memcpy(out, p, sizeof(*out));
	if (out->count == 0 || out->count > max_xfer)
		return -EINVAL;
	if (is_write) {
		if (len - sizeof(*out) != out->count)
			return -EINVAL;
		*data = (const uint8_t *)p + sizeof(*out);
	} else if (len != sizeof(*out)) {
		return -EINVAL;
	}
	return 0;
}
