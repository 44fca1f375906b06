/** How a process reaches Temporal, from its config: whether the frontend answers. */
import { Connection } from '@temporalio/client';

/** True when a Temporal frontend answers at `address`. */
export async function temporalReachable(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 2000 });
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close();
  }
}
