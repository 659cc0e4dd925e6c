/* SPDX-License-Identifier: MIT */
/* vnvme-target configuration: command-line flags or a JSON file. */
#ifndef VN_TARGET_CONFIG_H
#define VN_TARGET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target/device.h"

#define VN_MAX_CTRLS 256
#define VN_MAX_CPUS  64
/* The smallest namespace a configuration may ask for. */
#define VN_MIN_NS_SIZE (1u << 20)

struct vnvme_target_conf {
	int cpus[VN_MAX_CPUS]; /* polling threads, one per entry; -1: unpinned */
	unsigned nr_cpus;
	unsigned nr_ctrls;
	struct vnvme_dev_conf *ctrls; /* nr_ctrls entries */
	char rpc[108];                /* the JSON-RPC socket; "": none */
};

/* "512", "4k", "64M", "1G", "2T" (binary units). */
int vn_parse_size(const char *s, uint64_t *out);
/* "1", "0,2", "0-3", "0-1,4" into cpus[]; -EINVAL with a message in err. */
int vn_parse_cpus(const char *s, int *cpus, unsigned max, unsigned *n);

/* Defaults for one controller: ram 1 GiB, 512 B LBAs, 8 queues of 1024. */
void vn_dev_conf_defaults(struct vnvme_dev_conf *c);

/* Load a JSON configuration (schema in docs/target.md). */
int vn_conf_load_json(const char *path, struct vnvme_target_conf *out, char *err, size_t errlen);
/* Check a configuration: sizes, sockets unique, queues and depths in range. */
int vn_conf_check(const struct vnvme_target_conf *c, char *err, size_t errlen);
/* The checks of one controller alone (sizes, queues, LBA sizes, paths). */
int vn_conf_check_ctrl(const struct vnvme_dev_conf *d, char *err, size_t errlen);
/* The checks of one namespace (LBA size, size, path); where names it in err. */
int vn_conf_check_ns(const struct vnvme_ns_conf *ns, const char *where, char *err, size_t errlen);
void vn_conf_free(struct vnvme_target_conf *c);
/* A namespace's strings (be.path, model): freed and NULL; replaced by
 * copies of their own (-ENOMEM: both NULL). */
void vn_ns_conf_clear(struct vnvme_ns_conf *ns);
int vn_ns_conf_dup_strings(struct vnvme_ns_conf *ns);

struct json_object;
/*
 * The first key of object o that is not in known (NULL-terminated), or NULL
 * when all are; then list holds the known keys joined by ", " (cut to its
 * len). Each caller words its own message ("the keys are ...").
 */
const char *vn_conf_unknown_key(struct json_object *o, const char *const *known, char *list,
				size_t len);
/* One controller object of the JSON schema ("count" must be 1): the
 * defaults, then its keys; its namespaces' paths are strdup'ed. */
int vn_conf_parse_ctrl(struct json_object *o, struct vnvme_dev_conf *c, char *err, size_t errlen);
/* One namespace object of the schema, over the defaults (ram, 1 GiB, 512 B
 * LBAs); its path is strdup'ed. 0, -EINVAL with err, or -ENOMEM. */
int vn_conf_parse_ns(struct json_object *o, struct vnvme_ns_conf *ns, char *err, size_t errlen);

/*
 * Device models (docs/models.md, src/target/model_conf.c). A namespace's
 * "model" object into c, every field checked, empirical files read: 0, or
 * -EINVAL with a sentence in err (c then owns nothing).
 */
struct nvme_model_conf;
int vn_model_parse(struct json_object *o, struct nvme_model_conf *c, char *err, size_t errlen);
/* The same from text: a JSON object, or @FILE holding one. */
int vn_model_parse_text(const char *text, struct nvme_model_conf *c, char *err, size_t errlen);
/* Check a model and give its canonical text (one line, malloc'ed), as
 * vnvme_ns_conf.model holds it: from an object, or from text as above. */
int vn_model_canon(struct json_object *o, char **out, char *err, size_t errlen);
int vn_model_canon_text(const char *text, char **out, char *err, size_t errlen);

#endif
