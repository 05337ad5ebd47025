<?php
// config/broadcasting.php with the fastpush connection (docs/php.md); the
// other connections of Laravel's file (pusher, ably, redis, log) may stay.
return [

    'default' => env('BROADCAST_DRIVER', 'fastpush'),

    'connections' => [

        'fastpush' => [
            'driver' => 'fastpush',
            // zmq: the broker's control socket (php-zmq);
            // http: POST /push/publish on fastpush-poll (no php-zmq needed)
            'transport' => env('FASTPUSH_TRANSPORT', 'zmq'),
            'control' => env('FASTPUSH_CONTROL', 'tcp://127.0.0.1:7401'),
            'token' => env('FASTPUSH_PUBLISH_TOKEN'),        // broker publish-token
            'url' => env('FASTPUSH_PUBLISH_URL', 'http://127.0.0.1/push/publish'),
            'secret' => env('FASTPUSH_PUBLISH_SECRET'),      // fastpush-poll publish-secret
            'timeout' => (float) env('FASTPUSH_TIMEOUT', 3.0),
            // channel tokens for the page: the responders' HS256 jwt-key
            'jwt_key_file' => env('FASTPUSH_JWT_KEY_FILE', '/etc/fastpush/jwt.key'),
            'jwt_ttl' => (int) env('FASTPUSH_JWT_TTL', 600),
            // channels anyone may get a token for without a Broadcast::channel()
            'public_channels' => ['news', 'public.*'],
        ],

        'log' => [
            'driver' => 'log',
        ],

        'null' => [
            'driver' => 'null',
        ],

    ],

];
