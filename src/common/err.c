/*
 * err.c: names for enum baton_err. Shared by the server and libbaton (it is
 * compiled into both), so it depends on nothing but the public header.
 */
#include "common/errors.h"

const char *baton_strerror(int rc)
{
        switch (rc) {
        case BATON_OK:
                return "ok";
        case BATON_ENOMEM:
                return "out of memory";
        case BATON_EINVAL:
                return "invalid input";
        case BATON_ENOTFOUND:
                return "not found";
        case BATON_ECONFLICT:
                return "conflict";
        case BATON_ELEASE:
                return "lease token is not the job's current lease";
        case BATON_EEXPIRED:
                return "lease expired";
        case BATON_EIDEM:
                return "idempotency key reused with a different payload";
        case BATON_ESTATE:
                return "not allowed in the job's current state";
        case BATON_ETOOBIG:
                return "too large";
        case BATON_ESTORE:
                return "store failure";
        case BATON_EBUSY:
                return "unavailable, retry later";
        case BATON_ESCHEMA:
                return "store schema is newer than this binary";
        case BATON_EIO:
                return "I/O error";
        case BATON_ESHUTDOWN:
                return "shutting down";
        case BATON_EHTTP:
                return "HTTP transport error";
        case BATON_EPROTO:
                return "unexpected reply from server";
        case BATON_EAUTH:
                return "unauthenticated";
        case BATON_EFORBIDDEN:
                return "forbidden";
        case BATON_ERATE:
                return "rate limited";
        case BATON_ERANGE:
                return "value out of range";
        case BATON_ETOOMANY:
                return "too many objects of this kind in the tenant";
        }
        return "unknown error";
}
