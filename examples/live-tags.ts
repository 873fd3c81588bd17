/**
 * A runnable example (`npm run example`): a simulated container runtime feeds a stream collector;
 * the tagger prints each container's live tags as they arrive, change and go.
 *
 * Run it with `--duration <ms>` to change how long it runs (default 6000).
 */
import { Observable, filter, take, timer } from 'rxjs';
import {
  type TagInfo,
  SourcePriority,
  consoleLogger,
  containerId,
  createTagger,
  deleteEntityInfo,
  streamCollector,
  tagInfo,
} from 'tagstream';

const durationFlag = process.argv.indexOf('--duration');
const duration = durationFlag > 0 ? Number(process.argv[durationFlag + 1]) : 6000;

/** A pretend container runtime: starts, renames and stops three containers over a few seconds. */
function simulatedRuntime(): Observable<TagInfo> {
  const script: readonly [number, TagInfo][] = [
    [200, tagInfo({ entity: containerId('web-1'), source: 'runtime', low: ['image_name:nginx', 'env:prod'], high: ['container_name:web-1'] })],
    [600, tagInfo({ entity: containerId('db-1'), source: 'runtime', low: ['image_name:postgres', 'env:prod'], high: ['container_name:db-1'] })],
    [1400, tagInfo({ entity: containerId('web-1'), source: 'runtime', low: ['image_name:nginx', 'env:prod', 'version:1.27'], high: ['container_name:frontend'] })],
    [2200, deleteEntityInfo(containerId('db-1'), 'runtime')],
  ];
  return new Observable<TagInfo>((subscriber) => {
    const timers = script.map(([at, info]) =>
      setTimeout(() => {
        subscriber.next(info);
      }, at),
    );
    return () => {
      timers.forEach(clearTimeout);
    };
  });
}

const tagger = createTagger({
  collectors: [streamCollector('runtime', simulatedRuntime(), { priority: SourcePriority.NodeRuntime })],
  pruneInterval: 500,
  logger: consoleLogger('info'),
});
tagger.start();

// Everything that happens, at high cardinality.
tagger.events$({ cardinality: 'high' }).subscribe((event) => {
  console.log(`${event.type.padEnd(8)} ${event.entity}  [${event.tags.join(', ')}]`);
});

// One container's live low-cardinality tags, and a one-off query once it exists.
tagger.tags$(containerId('web-1')).subscribe((tags) => {
  console.log(`  tags$(web-1, low) -> [${tags.join(', ')}]`);
});
tagger
  .tags$(containerId('web-1'), 'high')
  .pipe(filter((tags) => tags.length > 0), take(1))
  .subscribe(() => {
    void tagger.tag(containerId('web-1'), 'orchestrator').then((tags) => {
      console.log(`  await tag(web-1, orchestrator) -> [${tags.join(', ')}]`);
    });
  });

timer(duration).subscribe(() => {
  console.log('telemetry', JSON.stringify(tagger.telemetry()));
  tagger.stop();
});
