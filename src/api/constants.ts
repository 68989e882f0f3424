/** The node's HTTP API listens here unless the config says otherwise; the CLI's commands look for it here. */
export const DEFAULT_API_HOST = '127.0.0.1'
export const DEFAULT_API_PORT = 31417
