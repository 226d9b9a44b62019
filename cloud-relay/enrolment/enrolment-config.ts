// The relay's `enrolment:` config section: the CA directory that signs
// hospital client certificates; absent, enrolment is off.
import { z } from 'zod';

export const EnrolmentConfigSchema = z.strictObject({ caDir: z.string().min(1) });
export type EnrolmentConfig = z.output<typeof EnrolmentConfigSchema>;
