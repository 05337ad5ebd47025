<?php
/*  Publish a few events to a fastpush broker.
 *
 *      php example.php [--control EP] [--ingest EP] [CHANNEL]
 *
 *  The endpoints default to $FASTPUSH_CONTROL / $FASTPUSH_INGEST, then to
 *  the broker's defaults (tcp://127.0.0.1:7401 and :7400).
 */
require __DIR__ . '/FastpushPublisher.php';

$control = getenv('FASTPUSH_CONTROL') ?: 'tcp://127.0.0.1:7401';
$ingest = getenv('FASTPUSH_INGEST') ?: 'tcp://127.0.0.1:7400';
$channel = 'news';
for ($i = 1; $i < $argc; $i++) {
    if ($argv[$i] === '--control' && $i + 1 < $argc)
        $control = $argv[++$i];
    elseif ($argv[$i] === '--ingest' && $i + 1 < $argc)
        $ingest = $argv[++$i];
    else
        $channel = $argv[$i];
}

$pub = new FastpushPublisher(['control' => $control, 'ingest' => $ingest,
                              'timeout' => 3.0]);
try {
    // acknowledged: the broker answers with the event's id
    $id = $pub->publish($channel, ['title' => 'Hello', 'at' => microtime(true)]);
    echo "published $id\n";
    $id = $pub->publish($channel, 'a plain string', ['event' => 'note']);
    echo "published $id\n";
    // keyed: the broker keeps the latest value per key (STATE, snapshots)
    $id = $pub->publish('prices', 1.0841, ['key' => 'EURUSD']);
    echo "published $id\n";
    // fire and forget: no id, no answer
    $pub->publishAsync($channel, ['title' => 'async']);
    // the broker refuses bad input with a code
    $pub->publish('not a valid channel', 1);
} catch (FastpushException $e) {
    echo 'refused: ', $e->getMessage(), "\n";
    $code = $e->getErrorCode();
    exit($code === 'timeout' || $code === 'broker_unavailable' ? 1 : 0);
}
