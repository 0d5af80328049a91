/*
 * errors.h: the error codes of the server, store and core: every code of the
 * public enum baton_err (include/baton/baton.h, shared with libbaton) and the
 * ones only the server side returns. Code below the client includes this
 * header, not baton.h, for its error codes. The numbers are part of no wire
 * format (the HTTP API sends names), but libbaton's are its ABI, so the
 * server's own take numbers the public enum leaves free.
 */
#ifndef BATON_COMMON_ERRORS_H
#define BATON_COMMON_ERRORS_H

#include "baton/baton.h"

enum baton_internal_err {
        BATON_ESCHEMA = -12,  /* the store has a newer schema than this binary */
        BATON_EIO = -13,      /* I/O or system call failure */
        BATON_ETOOMANY = -21, /* a per-tenant count is at its cap: too_many_queues (409) */
        BATON_ERR_MIN = -21
};

_Static_assert(BATON_ERANGE == -20 && BATON_ESHUTDOWN == -14 && BATON_EBUSY == -11,
               "the server's own codes take the numbers the public enum leaves free");

#endif
