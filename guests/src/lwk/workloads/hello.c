/* hello: prints its arguments and what rt_info reports; the first program to try on a kernel. */
#include "rt.h"

int rt_main(int argc, char **argv)
{
    rt_parse_args(argc, argv, NULL, 0);
    struct lwk_info in;
    rt_info(&in);
    rt_printf("hello from %s: pid %u, process %u of %u, cpu %u of %u, rank %u of %u\n", rt_prog(),
              in.pid, in.proc_index, in.procs, in.cpu, in.cpus, in.rank, in.nranks);
    if (rt_lead()) {
        for (int i = 0; i < argc; i++)
            rt_printf("  argv[%d] = \"%s\"\n", i, argv[i]);
        rt_printf("  tsc_hz %lu, page_size %lu, ram %lu MiB, free %lu frames, swap %lu pages,"
                  " slice %u us\n", in.tsc_hz, in.page_size, in.ram_bytes >> 20, in.free_frames,
                  in.swap_pages, in.slice_us);
        rt_printf("  format check: %d %5.2f %e %g %x %s\n", -42, 3.14159, 1e-10, 0.0001, 0xbeefu, "ok");
    }
    int status = 0;
    if (in.proc_index == 0 && in.procs > 1)
        status = rt_join();
    rt_result("hello", "argc=%d procs=%u nranks=%u ok=%d", argc, in.procs, in.nranks, status == 0);
    return status;
}
