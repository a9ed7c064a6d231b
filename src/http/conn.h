/* Internal to src/http: the connection record shared by conn.c (lifecycle, reading, pipelining,
 * timers), parse.c (llhttp callbacks, head scanner) and write.c (write queue). */
#ifndef HG_HTTP_CONN_H
#define HG_HTTP_CONN_H

#include "http.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Unparsed input kept while a response is in progress (pipelined requests); reading stops
 * above it. */
#define HG_PIPELINE_MAX (64 * 1024)

typedef enum { C_IDLE, C_HEADERS, C_BUSY } conn_state_t;
typedef enum { T_NONE, T_IDLE, T_HEADER, T_WRITE, T_DOOM } timer_kind_t;

struct hg_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    hg_http_t *h;
    hg_conn_t *prev, *next; /* the server's list */
    hg_conn_t *next_ready;  /* the server's list of connections whose next request may run */
    int is_ready;
    llhttp_t parser;
    hg_buf_t in; /* received bytes; in_off..len not yet parsed */
    size_t in_off;
    hg_request_t req;
    hg_buf_t aenc;   /* Accept-Encoding value */
    hg_buf_t *hval;  /* where the current header value goes, or NULL to ignore it */
    char hname[32];  /* first bytes of the current header name, for matching */
    size_t hname_len; /* full length of the current header name */
    int err_status;  /* status to answer when a callback rejected the request */
    const char *err_why;
    int saw_host;
    /* head scanner: what arrived on the wire for the current request's head */
    size_t scan_line_bytes, scan_header_bytes, scan_lines;
    int scan_at_line_start, scan_cr, scan_done;
    size_t scan_stop; /* where in the fed bytes the scanner found a violation */
    conn_state_t state;
    timer_kind_t timer_kind;
    int has_reply;
    hg_reply_t reply;
    size_t pending; /* bytes queued for writing (gathered or handed to libuv) */
    struct hg_piece *gather, **gather_tail; /* pieces queued and not yet handed to libuv */
    unsigned gather_bufs;
    int stream_resp; /* hg_conn_stream: this response's pieces are gathered per loop turn */
    int in_dirty;    /* on the server's list of connections to flush at the end of the turn */
    hg_conn_t *dirty_prev, *dirty_next;
    int closing;
    int doomed; /* a write could not be queued: closing on the next loop turn */
    int close_when_flushed;
    int reading;
    int handles; /* open uv handles: tcp + timer */
    char peer[64];
};

extern const llhttp_settings_t hg_http_settings;

/* conn.c */
void hg_conn_close(hg_conn_t *c);
void hg_conn_update_timer(hg_conn_t *c, int progress);
void hg_conn_schedule(hg_conn_t *c);
void hg_conn_doom(hg_conn_t *c);
/* queued output shrank: reading and parsing may resume */
void hg_conn_output_drained(hg_conn_t *c);
/* write.c */
int hg_write_init(hg_http_t *h);
void hg_write_close(hg_http_t *h);
void hg_write_drop_gathered(hg_conn_t *c);
/* parse.c */
void hg_parse_reset(hg_conn_t *c);
int hg_scan_head(hg_conn_t *c, const char *p, size_t n);
void hg_parse_error(hg_conn_t *c, llhttp_errno_t e);

#endif
