/** The storage tracker's level store is of another version, or is not one. */
export class StorageTrackerVersionError extends Error {
  override name = 'StorageTrackerVersionError'
}

/** The storage tracker's level store could not be opened (in use by another process, or damaged). */
export class StorageTrackerError extends Error {
  override name = 'StorageTrackerError'
}
