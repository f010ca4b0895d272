/** The dcmsafe version: one place, used by the CLI, the PDI files and the implementation version name. */
export const VERSION = '0.1.0';
