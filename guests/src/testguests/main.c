/* The test guest: one multiboot kernel whose command line "<scenario> [key=value ...]" selects a
 * scenario. Each prints its results on COM1, ends with "PASS <scenario>" or
 * "FAIL <scenario>: <reason>" and leaves through isa-debug-exit (0 on pass). */
#include "testguest.h"

struct scenario {
    const char *name;
    void (*run)(void);
};

static const struct scenario scenarios[] = {
    { "hello", scenario_hello },
    { "debugexit", scenario_debugexit },
    { "pit", scenario_pit },
    { "apic-timer", scenario_apic_timer },
    { "ioapic", scenario_ioapic },
    { "smp", scenario_smp },
    { "tpr", scenario_tpr },
    { "fwcfg", scenario_fwcfg },
    { "acpi", scenario_acpi },
    { "rtc", scenario_rtc },
    { "serial", scenario_serial },
    { "pci", scenario_pci },
    { "net", scenario_net },
    { "scribble", scenario_scribble },
    { "exitloop", scenario_exitloop },
};

static bool word_equals(const char *word, const char *name)
{
    size_t n = strlen(name);
    return memcmp(word, name, n) == 0 && (word[n] == ' ' || word[n] == 0);
}

/* QEMU passes the kernel's file name as the first word; any word naming a scenario selects it. */
static const struct scenario *select_scenario(void)
{
    for (const char *word = boot.cmdline; *word;) {
        for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
            if (word_equals(word, scenarios[i].name)) {
                scenario_command = word;
                scenario_args = word + strlen(scenarios[i].name);
                while (*scenario_args == ' ') scenario_args++;
                return &scenarios[i];
            }
        }
        while (*word && *word != ' ') word++;
        while (*word == ' ') word++;
    }
    return NULL;
}

void kmain(uint32_t magic, uint32_t multiboot_info);

void kmain(uint32_t magic, uint32_t multiboot_info)
{
    console_init();
    interrupts_init();
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC) fail("entered with EAX 0x%x, not the multiboot magic", magic);
    boot_facts_copy(multiboot_info);
    const struct scenario *scenario = select_scenario();
    if (!scenario) fail("no scenario on the command line \"%s\"", boot.cmdline);
    scenario_name = scenario->name;
    scenario->run();
    print("PASS %s\n", scenario_name);
    exit_guest(0);
}
