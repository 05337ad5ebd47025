<?php

namespace Fastpush;

/**
 * Publishers and token issuers from one flat configuration array, as the
 * framework integrations keep it (config/broadcasting.php, services.yaml):
 *
 *     'transport'    'zmq' (the broker's control socket, php-zmq) or 'http'
 *                    (POST /push/publish on fastpush-poll)
 *     'control'      zmq: the broker's control endpoint (tcp://127.0.0.1:7401)
 *     'ingest'       zmq: the broker's ingest endpoint (for publishAsync)
 *     'token'        zmq: the broker's publish-token
 *     'curve_server_cert', 'curve_client_cert'   zmq: CURVE certificates
 *     'url'          http: the URL of /push/publish
 *     'secret'       http: fastpush-poll's publish-secret
 *     'timeout'      seconds (3.0)
 *     'jwt_key' or 'jwt_key_file'   the HS256 jwt-key of the responders
 *     'jwt_ttl'      lifetime of the channel tokens, seconds (600)
 *     'jwt_claim'    the responders' jwt-claim ("fastpush")
 *
 * Empty values count as absent, so unset environment variables may be
 * passed as they are.
 */
final class Factory
{
    /** @return PublisherInterface */
    public static function publisher(array $config)
    {
        $config = array_filter($config, function ($v) {
            return $v !== null && $v !== '';
        });
        $transport = isset($config['transport']) ? strtolower($config['transport']) : 'zmq';
        if ($transport === 'http')
            return new HttpPublisher(self::pick($config,
                ['url', 'secret', 'bearer', 'timeout']));
        if ($transport === 'zmq')
            return new Publisher(self::pick($config, ['control', 'ingest', 'timeout',
                'token', 'curve_server_cert', 'curve_client_cert']));
        throw new \InvalidArgumentException(
            "fastpush transport '$transport': zmq or http");
    }

    /** @return TokenIssuer|null null when no jwt_key is configured */
    public static function tokenIssuer(array $config)
    {
        $o = [];
        foreach (['jwt_key' => 'key', 'jwt_key_file' => 'key_file',
                  'jwt_ttl' => 'ttl', 'jwt_claim' => 'claim'] as $from => $to)
            if (isset($config[$from]) && $config[$from] !== '')
                $o[$to] = $config[$from];
        return isset($o['key']) || isset($o['key_file']) ? new TokenIssuer($o) : null;
    }

    private static function pick(array $config, array $names)
    {
        return array_intersect_key($config, array_flip($names));
    }
}
