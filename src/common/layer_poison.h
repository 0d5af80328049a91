/*
 * layer_poison.h: forced into every file of common, store and core by the
 * build (CMakeLists.txt, -include). Those layers know no event loop: the
 * server owns libevent and gives core callbacks instead (core/exec.h
 * exec_wake). Poisoning names every libevent header declares makes an
 * #include of an event2/ header below the server a compile error ("attempt
 * to use poisoned"), whatever include path it comes through.
 */
#ifndef BATON_COMMON_LAYER_POISON_H
#define BATON_COMMON_LAYER_POISON_H

#pragma GCC poison evutil_socket_t event_base

#endif
