import { z } from 'zod'

/** RFC 6750's token syntax; long enough that guessing is hopeless, short enough for a header. */
export const apiTokenSchema = z.string().regex(/^[A-Za-z0-9\-._~+/]{16,512}=*$/, 'an API token is 16-512 characters of A-Z, a-z, 0-9, "-", ".", "_", "~", "+", "/" (then "=" padding)')
