// The operator's read side of the archive: a study's view and one instance's
// bytes, for the agent's study routes (agent/http/imaging-routes.ts). The index
// is caught up with the journal before each answer, so an instance whose
// C-STORE was answered is there on the next request.
import type { Readable } from 'node:stream';
import type { InstanceArchive } from './instance-archive.js';
import type { IndexedInstance, StudyIndex } from './study-index.js';
import { buildStudyView, type StudyFeed, type StudyView } from './study-view.js';

export interface StudyBrowserOptions {
  index: StudyIndex;
  archive: InstanceArchive;
  /** The configured feeds (which streams each carries). */
  feeds: readonly StudyFeed[];
  /** Each feed's acked seq as last saved (agent/store FeedAcks.all). */
  ackedSeqs: () => ReadonlyMap<string, number>;
}

/** An instance ready to be sent: its index entry and a stream of its bytes (chunk by chunk, each verified). */
export interface InstanceDownload {
  instance: IndexedInstance;
  open(): Readable;
}

export class StudyBrowser {
  constructor(private readonly options: StudyBrowserOptions) {}

  /** The study's view; undefined when the archive holds no instance of it. */
  async study(studyUid: string): Promise<StudyView | undefined> {
    await this.options.index.catchUp();
    return buildStudyView(studyUid, this.options.index.study(studyUid), this.options.feeds, this.options.ackedSeqs());
  }

  /** One instance; undefined when the archive does not hold it under that study and series. */
  async instance(studyUid: string, seriesUid: string, sopInstanceUid: string): Promise<InstanceDownload | undefined> {
    await this.options.index.catchUp();
    const instance = this.options.index.instance(studyUid, seriesUid, sopInstanceUid);
    if (!instance) return undefined;
    return { instance, open: () => this.options.archive.createInstanceStream(instance.body) };
  }
}
