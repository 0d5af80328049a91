/*
 * main.c: batond's entry point: reads the configuration (flags, then the
 * environment's defaults) and runs the server until SIGTERM or SIGINT.
 */
#include <stdio.h>

#include "server/config.h"
#include "server/server.h"

int main(int argc, char **argv)
{
        struct config cfg;
        int code = 0;

        if (config_load(&cfg, argc, argv, stdout, stderr, &code) == CONFIG_EXIT)
                return code;
        return server_run(&cfg);
}
